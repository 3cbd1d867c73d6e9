"""The demo's story, run small, checked against the simulators' data so it cannot silently rot."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from idsync.sandbox import Sandbox
from idsync.sandbox.demo import run_demo
from idsync.state import Store
from rich.console import Console

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "afas-helloid.yaml"


def test_the_demo_story_holds(tmp_path: Path, monkeypatch: object) -> None:
    console = Console(file=(tmp_path / "demo.txt").open("w", encoding="utf-8"), width=120)
    with Sandbox(size=120, seed=11, today=dt.date(2026, 3, 2)) as sandbox:
        story = run_demo(EXAMPLE, tmp_path / "demo", console=console, sandbox=sandbox)
        helloid = sandbox.apps["helloid"].data
        store = Store(f"sqlite:///{tmp_path / 'demo' / 'idsync.db'}")
        try:
            shadows = store.accounts("helloid")
            audit = store.audit(person=story.followed, limit=100)
        finally:
            store.close()
    labels = [label for label, _, _ in story.runs]
    assert labels == ["first run", "re-run", "a month later", "later still", "after the loss"]
    first, rerun, month, later, loss = (report for _, _, report in story.runs)
    assert first.count("done", "create") > 0
    assert first.count("done", "correlate") > 0  # pre-existing HelloID accounts were linked
    assert first.count("failed") == 0
    assert len(first.blocked) >= 1  # the world's broken HR rows
    assert rerun.counts == {}
    assert month.count("done", "enable") + month.count("done", "disable") > 0
    assert later.count("done", "delete") > 0
    assert [h.kind for h in loss.held] == ["import"]
    assert loss.counts == {}
    assert story.followed is not None
    assert audit

    # The state store agrees with HelloID: every linked account exists with its state and groups.
    assert shadows
    for shadow in shadows.values():
        user = helloid.users[shadow.reference]
        assert not user["isDeleted"]
        assert user["isEnabled"] is shadow.enabled
        groups = {f"group:{g}" for g in helloid.memberships(shadow.reference)}
        assert {k for k in shadow.permissions if k.startswith("group:")} <= groups
    assert story.state == (tmp_path / "demo" / "idsync.db").resolve()
    text = (tmp_path / "demo.txt").read_text(encoding="utf-8")
    assert "HR loses a department" in text
    # It ends by saying how to open the web console on the state it left.
    assert "idsync users add" in text
    assert re.search(
        r"idsync serve \S*afas-helloid\.yaml\s+then open\s+http://127\.0\.0\.1:8080/", text
    )
