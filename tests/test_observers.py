"""Observer plugins, installed through a real entry point, see every action and every run."""

from __future__ import annotations

import json
from pathlib import Path

from support import Org

OBSERVER = """
import json, os
from idsync import hookimpl

class Recorder:
    @hookimpl
    def idsync_action_finished(self, event):
        with open(os.environ["EVENTS_FILE"], "a") as out:
            out.write(json.dumps({"hook": "action", "kind": event.kind.value,
                                  "status": event.status.value, "system": event.system}) + "\\n")

    @hookimpl
    def idsync_run_finished(self, summary):
        with open(os.environ["EVENTS_FILE"], "a") as out:
            out.write(json.dumps({"hook": "run", "counts": summary.counts,
                                  "exit": summary.exit_code}) + "\\n")

class Broken:
    @hookimpl
    def idsync_action_finished(self, event):
        raise RuntimeError("the mail server is down")
"""


def _install(site: Path) -> None:
    (site / "observe_demo.py").write_text(OBSERVER, encoding="utf-8")
    dist = site / "observe_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: observe-demo\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[idsync.plugins]\nrecorder = observe_demo:Recorder\nbroken = observe_demo:Broken\n",
        encoding="utf-8",
    )


def test_observers_receive_every_action_and_the_run_and_cannot_fail_it(
    org: Org, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    events_file = tmp_path / "events.jsonl"
    org.env.update({"PYTHONPATH": str(site), "EVENTS_FILE": str(events_file)})

    listing = {p["name"]: p for p in org.json("plugins")["plugins"]}
    assert listing["recorder"]["kind"] is None
    assert listing["recorder"]["error"] is None
    assert listing["recorder"]["package"] == "observe-demo"

    result = org.json("run", str(org.pipeline), "--as-of", "2026-01-20")  # exit 0 despite Broken
    events = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines()]
    actions = [e for e in events if e["hook"] == "action"]
    runs = [e for e in events if e["hook"] == "run"]
    done = sum(result["counts"]["done"].values())
    assert len(actions) == done
    assert {e["system"] for e in actions} == {"helloid", "afas"}
    assert runs == [{"hook": "run", "counts": result["counts"], "exit": 0}]
