"""``idsync new-plugin``: the generated package installs into a fresh venv and its tests pass.

The slow test builds one venv without the system's site-packages, installs the local core
(editable, with ``[sandbox]``), two generated plugins (a target and a source-and-target, built
as wheels from their own pyproject) and the workspace's pytest, then runs each plugin's tests,
which run the contract kit against the plugin's simulator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from idsync.sandbox.scaffold import (
    HATCHLING,
    MYPY,
    PYTEST,
    RUFF,
    ScaffoldError,
    check_name,
    compatible_range,
    new_plugin,
)
from packaging.requirements import Requirement

CORE = Path(__file__).resolve().parents[1]
WORKSPACE = CORE.parent
TOOLS = Path(sys.executable).parent
"""The workspace venv's bin directory (ruff and mypy)."""


def _workspace_pin(name: str) -> str:
    """The version the workspace installs of a tool (``constraints.txt``), e.g. ``9.2.0``."""
    for line in (WORKSPACE / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.lower().startswith(f"{name.lower()}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not in constraints.txt")


def _run(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {**base, "NO_COLOR": "1", **(env or {})}
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


def test_the_generated_ranges_hold_what_the_workspace_is_tested_with() -> None:
    for declared in (PYTEST, RUFF, MYPY):
        requirement = Requirement(declared)
        assert _workspace_pin(requirement.name) in requirement.specifier, declared
    build = tomllib.loads((CORE / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    (backend,) = build["requires"]
    assert Requirement(backend).specifier.contains(backend.split("==")[1])
    assert Requirement(HATCHLING).specifier.contains(backend.split("==")[1])


def test_the_idsync_range_is_the_release_line() -> None:
    assert compatible_range("0.1.0") == ">=0.1,<0.2"
    assert compatible_range("0.12.3.dev1") == ">=0.12,<0.13"
    assert compatible_range("1.2.3") == ">=1.2,<2"


def test_names_write_acronyms_in_capitals() -> None:
    scim = check_name("scim")
    assert (scim.title, scim.prefix, scim.module, scim.env) == (
        "SCIM",
        "SCIM",
        "idsync_scim",
        "SCIM",
    )
    acme = check_name("acme-hr")
    assert (acme.title, acme.prefix) == ("Acme HR", "AcmeHR")
    given = check_name("entra", "Microsoft Entra ID")
    assert (given.title, given.prefix) == ("Microsoft Entra ID", "MicrosoftEntraID")
    with pytest.raises(ScaffoldError, match="title"):
        check_name("acme", "<script>")


def test_names_kinds_and_existing_directories_are_checked(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    for name in ("Acme", "acme_hr", "1acme", "acme--hr", "acme-"):
        with pytest.raises(ScaffoldError, match="must be lowercase letters and digits"):
            new_plugin(name, "target", tmp_path)
    with pytest.raises(ScaffoldError, match="kind 'sink' is not one of source, target, both"):
        new_plugin("acme", "sink", tmp_path)
    with pytest.raises(ScaffoldError, match="simulator 'full' is not one of minimal, none"):
        new_plugin("acme", "target", tmp_path, simulator="full")
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
        "hr": "idsync_hr.plugin:HRPlugin"
    }
    assert project["project"]["dependencies"] == ["idsync>=0.1,<0.2"]
    assert project["project"]["optional-dependencies"] == {"sandbox": ["idsync[sandbox]>=0.1,<0.2"]}


def test_without_a_simulator_the_tests_use_a_live_endpoint(tmp_path: Path) -> None:
    root = new_plugin("scim", "target", tmp_path, simulator="none")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "src/idsync_scim/__init__.py",
        "src/idsync_scim/client.py",
        "src/idsync_scim/plugin.py",
        "src/idsync_scim/py.typed",
        "src/idsync_scim/settings.py",
        "tests/conftest.py",
        "tests/test_contract.py",
        "tests/test_plugin.py",
    ]
    plugin = (root / "src/idsync_scim/plugin.py").read_text(encoding="utf-8")
    assert "class SCIMPlugin:" in plugin
    assert "idsync_sandbox" not in plugin
    assert 'summary="SCIM users and groups as a target"' in plugin
    conftest = (root / "tests/conftest.py").read_text(encoding="utf-8")
    assert '_environment("SCIM_BASE_URL")' in conftest
    assert "writes=sent_writes" in (root / "tests/test_contract.py").read_text(encoding="utf-8")
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert "optional-dependencies" not in project["project"]


def test_the_layout_and_fixtures_are_the_tutorials(tmp_path: Path) -> None:
    tutorial = WORKSPACE / "docs" / "writing-plugins" / "phonebook"
    root = new_plugin("acme", "target", tmp_path)

    def layout(package: Path, module: str) -> set[str]:
        return {
            p.relative_to(package).as_posix().replace(module, "M")
            for p in package.rglob("*.py")
            if "__pycache__" not in p.parts
        }

    generated, written = layout(root, "idsync_acme"), layout(tutorial, "idsync_phonebook")
    assert written <= generated, f"the tutorial has {sorted(written - generated)}"
    assert generated - written == {"src/M/client.py"}  # the generator's calls in one place

    def fixtures(conftest: Path) -> set[str]:
        text = conftest.read_text(encoding="utf-8")
        return set(re.findall(r"@pytest.fixture\ndef (\w+)", text))

    tutorial_fixtures = fixtures(tutorial / "tests" / "conftest.py")
    assert tutorial_fixtures <= fixtures(root / "tests" / "conftest.py")
    assert tutorial_fixtures == {"token", "data", "app", "url", "plugin", "ctx"}


@pytest.mark.slow
def test_generated_plugins_install_in_a_fresh_venv_and_pass_their_tests(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    made = {}
    for name, kind, simulator in (
        ("acme-id", "target", "minimal"),
        ("peoplebase", "both", "minimal"),
        ("acme-live", "target", "none"),
    ):
        result = cli(
            "new-plugin", name, "--kind", kind, "--simulator", simulator,
            "--dir", str(tmp_path / "plugins"),
        )  # fmt: skip
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
    _run(*pip, "-e", f"{CORE}[sandbox]", f"pytest=={_workspace_pin('pytest')}")
    # The plugins ask for idsync>=0.1,<0.2: the local core installed above satisfies it.
    live = made.pop("acme-live")
    _run(*pip, *(f"{root}[sandbox]" for root in made.values()), str(live))

    listing = json.loads(_run(venv / "bin" / "idsync", "plugins", "--json"))["plugins"]
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

    # The package without a simulator runs its tests against a live endpoint: here the
    # acme-id simulator, which speaks the same starting API.
    with serving(python, "idsync_acme_id.simulator") as (url, token):
        env = {"ACME_LIVE_BASE_URL": url, "ACME_LIVE_TOKEN": token}
        out = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", cwd=live, env=env)
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary, out
    assert "skipped" not in summary, out
    skipped = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", cwd=live)
    assert "set ACME_LIVE_BASE_URL" in skipped, "without the variables the tests say what to set"


@contextmanager
def serving(python: Path, module: str, *args: str) -> Iterator[tuple[str, str]]:
    """Run a generated simulator (``python -m module``) on a free port; its URL and token."""
    process = subprocess.Popen(
        [str(python), "-m", module, "--port", "0", "--size", "20", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            found = re.search(r"listening on (\S+) \(token (\S+)\)", line)
            if found:
                yield found.group(1), found.group(2)
                return
        raise AssertionError(f"the simulator did not start: {''.join(seen)}")
    finally:
        process.terminate()
        process.wait(timeout=30)
