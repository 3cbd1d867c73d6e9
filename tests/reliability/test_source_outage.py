"""A source that suddenly answers empty, with half its people, or with every e-mail address
blank is held whole (an empty import always, the others by the default source thresholds): not
one request reaches a target, the report says why, and an operator can approve the import. The
persons an approved import misses are gone only after the source's grace."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from reliability.harness import AS_OF, BigOrg, big_org

SIZE = 60


def _empty(org: BigOrg) -> str:
    data = org.afas.data
    with data.lock:
        data.people, data.employments, data.positions = [], [], []
        data.changed()
    return "the import lists nobody, after a snapshot of 60 persons (always held"


def _half(org: BigOrg) -> str:
    data = org.afas.data
    with data.lock:
        gone = {p["Medewerker"] for p in data.people[::2]}
        data.people = [p for p in data.people if p["Medewerker"] not in gone]
        data.employments = [e for e in data.employments if e["Medewerker"] not in gone]
        data.positions = [p for p in data.positions if p["Medewerker"] not in gone]
        data.changed()
    return "30 persons missing from the import (of 60; the threshold is"


def _blank_emails(org: BigOrg) -> str:
    data = org.afas.data
    with data.lock:
        for person in data.people:
            person["Email_werk"] = None
        data.changed()
    return "persons with fields emptied (of 60; the threshold is"


OUTAGES: dict[str, Callable[[BigOrg], str]] = {
    "empty": _empty,
    "half": _half,
    "every e-mail blank": _blank_emails,
}


def _users(org: BigOrg) -> dict[str, tuple[bool, str | None]]:
    return {
        u["userGUID"]: (u["isEnabled"], u.get("contactEmail")) for u in org.helloid.users.values()
    }


def test_source_outages_are_held_whole_and_can_be_approved(tmp_path: Path, state_url: str) -> None:
    with big_org(tmp_path, state_url, size=SIZE) as org:
        first = org.run()
        assert first.code == 0, first.stderr[-2000:]
        before = _users(org)
        data = org.afas.data
        rows = copy.deepcopy((data.people, data.employments, data.positions))

        for outage, break_source in OUTAGES.items():
            what = break_source(org)
            org.clear_logs()
            if outage == "empty":  # a plan shows the hold too (the other outages alike)
                plan = org.plan()
                assert plan.code == 3
                held = plan.json()["held"]
                assert [(h["system"], h["kind"]) for h in held] == [("hr", "import")]
                assert what in held[0]["reason"]

            run = org.run()
            assert run.code == 3, outage
            result = run.json()
            assert result["counts"] == {}
            assert [(h["system"], h["kind"]) for h in result["held"]] == [("hr", "import")]
            assert what in result["held"][0]["reason"]
            assert org.helloid_sim.log.all() == [], outage  # not even a read reached it
            assert org.afas.app.log.writes() == [], outage
            assert _users(org) == before, outage

            store = org.store()
            try:
                on_record = store.held("reliability")
            finally:
                store.close()
            assert [(h["system"], h["kind"]) for h in on_record] == [("hr", "import")]
            assert what in on_record[0]["reason"], outage
            with data.lock:
                data.people, data.employments, data.positions = copy.deepcopy(rows)
                data.changed()

        # The report for people says the same; an operator approves the import.
        what = _half(org)
        text = org.idsync("run", str(org.pipeline), "--as-of", AS_OF, "--time-travel")
        assert text.code == 3
        assert "held hr import:" in text.stdout
        assert what in text.stdout
        approved = org.run("--approve", "import")
        assert approved.code == 0, approved.stderr[-2000:]
        assert approved.json()["counts"] == {}  # accepted: missing, kept until the grace is over
        assert org.plan().json()["held"] == []
        # After the grace they are gone: the target's default thresholds hold the mass
        # disable in turn, until it is approved too.
        later = (dt.date.fromisoformat(AS_OF) + dt.timedelta(days=3)).isoformat()
        run = ("run", str(org.pipeline), "--as-of", later, "--time-travel", "--json")
        gone = org.idsync(*run)
        assert gone.code == 3, gone.stderr[-2000:]
        assert {h["kind"] for h in gone.json()["held"]} == {"disable", "revoke"}
        assert "counts" not in gone.json() or "done" not in gone.json()["counts"]
        gone = org.idsync(*run, "--approve", "disable", "--approve", "revoke")
        assert gone.code == 0, gone.stderr[-2000:]
        assert gone.json()["counts"]["done"]["disable"] > SIZE // 4
        store = org.store()
        try:
            statuses = [r["status"] for r in store.runs("reliability")]
        finally:
            store.close()
        assert statuses == ["done", "held", "done", "held", "held", "held", "held", "done"]
