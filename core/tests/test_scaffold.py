"""``idsync new-plugin``: the generated package installs into a fresh venv and its tests pass.

The slow test builds one venv without the system's site-packages, installs the local core
(editable, with ``[sandbox]``), two generated plugins (a target and a source-and-target, built
as wheels from their own pyproject) and the workspace's pytest, then runs each plugin's tests,
which run the contract kit against the plugin's simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from idsync.scaffold import MYPY, PYTEST, RUFF, ScaffoldError, new_plugin

CORE = Path(__file__).resolve().parents[1]
WORKSPACE = CORE.parent
TOOLS = Path(sys.executable).parent
"""The workspace venv's bin directory (ruff and mypy)."""


def _workspace_pin(name: str) -> str:
    """The workspace's pin of a dev tool (``constraints.txt``), e.g. ``pytest==9.2.0``."""
    lines = (WORKSPACE / "constraints.txt").read_text(encoding="utf-8").splitlines()
    (pin,) = [line for line in lines if line.split("==")[0] == name]
    return str(pin)


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NO_COLOR"] = "1"
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_generated_pins_are_the_workspaces() -> None:
    assert _workspace_pin("pytest") == PYTEST
    assert _workspace_pin("ruff") == RUFF
    assert _workspace_pin("mypy") == MYPY


def test_names_kinds_and_existing_directories_are_checked(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    for name in ("Acme", "acme_hr", "1acme", "acme--hr", "acme-"):
        with pytest.raises(ScaffoldError, match="must be lowercase letters and digits"):
            new_plugin(name, "target", tmp_path)
    with pytest.raises(ScaffoldError, match="kind 'sink' is not one of source, target, both"):
        new_plugin("acme", "sink", tmp_path)
    root = new_plugin("idsync-acme-hr", "source", tmp_path)
    assert root == tmp_path / "idsync-acme-hr"
    assert (root / "src/idsync_acme_hr/source.py").is_file()
    assert not (root / "src/idsync_acme_hr/target.py").exists()
    again = cli("new-plugin", "acme-hr", "--kind", "both", "--dir", str(tmp_path))
    assert again.exit_code == 2
    assert "exists already" in again.stderr


def test_a_target_has_no_source_code_and_a_source_no_target_hooks(tmp_path: Path) -> None:
    target = new_plugin("acme", "target", tmp_path)
    plugin = (target / "src/idsync_acme/plugin.py").read_text(encoding="utf-8")
    assert "def idsync_grant(self, ctx: HookContext)" in plugin
    assert "def idsync_persons" not in plugin
    assert "kind=PluginKind.TARGET" in plugin
    source = new_plugin("hr", "source", tmp_path)
    plugin = (source / "src/idsync_hr/plugin.py").read_text(encoding="utf-8")
    assert "def idsync_persons(self, ctx: HookContext)" in plugin
    assert "def idsync_create" not in plugin
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["idsync.plugins"] == {
        "hr": "idsync_hr.plugin:HrPlugin"
    }
    assert project["project"]["dependencies"] == ["idsync==0.1.0"]


@pytest.mark.slow
def test_generated_plugins_install_in_a_fresh_venv_and_pass_their_tests(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    made = {}
    for name, kind in (("acme-id", "target"), ("peoplebase", "both")):
        result = cli("new-plugin", name, "--kind", kind, "--dir", str(tmp_path / "plugins"))
        assert result.exit_code == 0, result.output
        made[name] = tmp_path / "plugins" / f"idsync-{name}"
        assert f"created idsync-{name} ({kind})" in result.stdout

    for root in made.values():  # the generated code is as clean as idsync's own
        _run(TOOLS / "ruff", "check", "--no-cache", ".", cwd=root)
        _run(TOOLS / "ruff", "format", "--check", "--no-cache", ".", cwd=root)
        _run(TOOLS / "mypy", "--cache-dir", tmp_path / "mypy-cache", cwd=root)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, "-e", f"{CORE}[sandbox]", _workspace_pin("pytest"))
    # The plugins pin idsync==0.1.0: the local core installed above is what satisfies it.
    _run(*pip, *(f"{root}[sandbox]" for root in made.values()))

    listing = json.loads(_run(venv / "bin" / "idsync", "plugins", "--json"))
    found = {p["name"]: p for p in listing}
    assert found["acme-id"]["kind"] == "target"
    assert found["acme-id"]["package"] == "idsync-acme-id"
    assert "grant" in found["acme-id"]["capabilities"]
    assert found["peoplebase"]["kind"] == "both"
    assert {"persons", "create"} <= set(found["peoplebase"]["capabilities"])
    assert not any(p["error"] for p in listing)

    for name, root in made.items():
        out = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", cwd=root)
        summary = out.strip().splitlines()[-1]
        assert " passed" in summary, out
        assert "skipped" not in summary, out
        assert "test_dry_run_writes_nothing[create]" in _run(
            python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", cwd=root
        ), name
