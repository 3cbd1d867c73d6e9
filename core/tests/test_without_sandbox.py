"""The engine needs nothing of the sandbox: it imports and runs a pipeline with the sandbox
packages absent.

A copy of the ``idsync`` package without ``idsync.sandbox`` (and without the deprecated
``idsync.simulator`` and ``idsync.world`` that lead to it) goes first on ``PYTHONPATH`` of a new
interpreter, where starlette and uvicorn (the ``[sandbox]`` extra) cannot be imported either.
There the command line lists the installed plugins and the engine runs a whole pipeline, with
notifications configured; afterwards no module of the sandbox was ever loaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import idsync

SCRIPT = textwrap.dedent(
    """
    import datetime as dt
    import importlib.abc
    import json
    import sys

    ABSENT = ("idsync.sandbox", "idsync.simulator", "idsync.world", "starlette", "uvicorn")


    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.startswith(ABSENT):
                raise ModuleNotFoundError(f"No module named {name!r} (absent here)", name=name)
            return None


    sys.meta_path.insert(0, Absent())

    import idsync
    from idsync import cli
    from idsync.config import load_pipeline
    from idsync.engine import Engine
    from idsync.plugins import Registry
    from rig import HR, Directory, MemorySource, MemoryTarget

    # The command line: every installed plugin loads without the sandbox.
    sys.argv = ["idsync", "plugins", "--json"]
    try:
        cli.main()
    except SystemExit as stop:
        assert stop.code in (0, None), stop.code

    hr, directory = HR(), Directory()
    for pid in ("1", "2"):
        hr.hire(pid, dt.date(2025, 1, 1))
    registry = Registry(
        entry_points=False,
        extra={
            "memhr": lambda settings=None: MemorySource(hr, settings),
            "memdir": lambda settings=None: MemoryTarget(directory, settings),
        },
    )
    pipeline = load_pipeline(PIPELINE, registry, env={})
    engine = Engine(pipeline, registry)
    try:
        report = engine.run(dt.date(2026, 1, 1), time_travel=True)
    finally:
        engine.close()
    print(json.dumps({
        "idsync": idsync.__file__,
        "exit": report.exit_code,
        "accounts": sorted(e.data["employeeId"] for e in directory.accounts.values()),
        "loaded": sorted(m for m in sys.modules if m.startswith(ABSENT)),
    }))
    """
)

PIPELINE = """\
state: sqlite:///{db}
sources:
  hr: {{plugin: memhr}}
targets:
  dir:
    plugin: memdir
    account:
      mapping: {{employeeId: "{{{{ person.external_id }}}}"}}
notifications:
  webhooks: {{ops: {{url: "http://127.0.0.1:9/hook", retries: 0, timeout: 1}}}}
  rules: [{{events: [failed], webhook: ops}}]
"""


def test_the_engine_imports_and_runs_without_the_sandbox(tmp_path: Path) -> None:
    source = Path(idsync.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(source, site / "idsync", ignore=shutil.ignore_patterns("__pycache__"))
    for moved in ("sandbox",):
        shutil.rmtree(site / "idsync" / moved)
    for shim in ("simulator.py", "world.py"):
        (site / "idsync" / shim).unlink()
    assert not (site / "idsync" / "sandbox").exists()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(db=tmp_path / "state.db"), encoding="utf-8")
    script = tmp_path / "run.py"
    script.write_text(f"PIPELINE = {str(pipeline)!r}\n" + SCRIPT, encoding="utf-8")
    rig = Path(__file__).resolve().parent
    result = subprocess.run(
        [sys.executable, str(script)],
        env={"PYTHONPATH": f"{site}:{rig}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    listing, _, summary = result.stdout.strip().rpartition("\n")
    plugins = {p["name"]: p for p in json.loads(listing)["plugins"]}
    assert {"afas", "topdesk", "helloid", "log", "notify"} <= set(plugins)
    assert all(p["error"] is None for p in plugins.values()), plugins
    outcome = json.loads(summary)
    assert outcome["idsync"].startswith(str(site))  # the copy without the sandbox ran
    assert outcome["exit"] == 0
    assert outcome["accounts"] == ["1", "2"]
    assert outcome["loaded"] == []
