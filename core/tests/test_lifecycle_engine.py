"""The lifecycle through the whole engine, over an in-memory HR source and directory (no HTTP)
and a real SQLite store: the rules that need more than one run, the store or a target's answer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from idsync.engine import EXIT_HELD, EXIT_OK, DateRefused
from idsync.state import Missing, Store
from rig import BASE, Rig, day


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    rig = Rig(tmp_path)
    for pid in ("1", "2", "3"):
        rig.hr.hire(pid, BASE - dt.timedelta(days=400))
    return rig


def test_a_person_missing_from_one_import_is_kept_until_the_grace_is_over(rig: Rig) -> None:
    rig.run(0)
    rig.hr.hidden = {"2"}
    calls = len(rig.directory.calls)
    report = rig.run(1)
    assert report.exit_code == EXIT_OK
    assert report.imports[0].missing == {"2": Missing(day(1), 1, day(1))}
    assert rig.directory.writes(calls) == []  # nothing happens to a person missing once
    rig.hr.hidden = set()
    rig.run(2)
    store = Store(rig.pipeline.state)
    try:
        assert store.missing("hr") == {}  # back in time: present again
    finally:
        store.close()
    assert rig.directory.writes(calls) == []

    rig.hr.hidden = {"2"}
    assert rig.run(3).imports[0].missing == {"2": Missing(day(3), 1, day(3))}
    assert rig.run(3).imports[0].missing == {"2": Missing(day(3), 1, day(3))}  # same day: once
    assert rig.run(5).imports[0].missing == {"2": Missing(day(3), 2, day(5))}  # 2 days: not yet
    assert rig.account_of("2").enabled
    gone = rig.run(6)  # 3 days and 3 imports: gone
    assert gone.imports[0].removed == {"2"}
    account = rig.account_of("2")
    assert account is not None
    assert not account.enabled
    assert account.groups == set()
    assert rig.plan(6).plan.targets["dir"].actions == []


def test_a_source_answering_nobody_is_held_even_with_thresholds_off(tmp_path: Path) -> None:
    rig = Rig(tmp_path, source_extra="thresholds: off")
    for pid in map(str, range(10)):
        rig.hr.hire(pid, BASE - dt.timedelta(days=400))
    rig.run(0)
    rig.hr.answer_empty = True
    calls = len(rig.directory.calls)
    report = rig.run(1)
    assert report.exit_code == EXIT_HELD
    assert "the import lists nobody" in report.held[0].reason
    rig.hr.answer_empty = False
    rig.hr.hidden = {str(i) for i in range(6)}  # more than half
    report = rig.run(2)
    assert report.exit_code == EXIT_HELD
    assert "(always held: more than half)" in report.held[0].reason
    rig.hr.hidden = {str(i) for i in range(5)}  # half, with thresholds off: taken
    assert rig.run(3).exit_code == EXIT_OK
    assert rig.directory.writes(calls) == []


def test_the_default_source_threshold_holds_a_lost_department(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for pid in map(str, range(40)):
        rig.hr.hire(pid, BASE - dt.timedelta(days=400), department="A" if int(pid) < 6 else "B")
    rig.run(0)
    rig.hr.hidden = {str(i) for i in range(6)}
    report = rig.run(1)
    assert report.exit_code == EXIT_HELD
    assert report.held[0].reason.startswith("6 persons missing from the import (of 40")
    assert rig.run(1, approve={"import"}).exit_code == EXIT_OK


def test_a_manager_loop_blocks_the_links_not_the_persons(rig: Rig) -> None:
    rig.hr.rows["1"]["manager"] = {"external_id": "2"}
    rig.hr.rows["2"]["manager"] = {"external_id": "1"}
    report = rig.run(0)
    assert {(b.person, b.scope) for b in report.blocked} == {("1", "manager"), ("2", "manager")}
    assert rig.account_of("1") is not None
    assert rig.account_of("2") is not None


def test_an_enforcing_run_is_dated_today_or_travels_forward_only(rig: Rig) -> None:
    engine = rig.engine()
    try:
        with pytest.raises(DateRefused, match="add --time-travel"):
            engine.run(engine.today() + dt.timedelta(days=1))
        engine.run(day(10), time_travel=True)
        with pytest.raises(DateRefused, match="before the last enforcing run"):
            engine.run(day(9), time_travel=True)
        assert engine.run(day(9), dry_run=True).exit_code == EXIT_OK  # a preview may look back
        assert engine.plan(day(9)).plan is not None
    finally:
        engine.close()


def test_a_held_leaver_keeps_access_until_approved(tmp_path: Path) -> None:
    rig = Rig(tmp_path, target_extra="thresholds: {disable: 1}")
    for pid in ("1", "2", "3"):
        rig.hr.hire(pid, BASE - dt.timedelta(days=400))
    rig.run(0)
    rig.hr.end("1", day(4))
    rig.hr.end("2", day(4))
    calls = len(rig.directory.calls)
    report = rig.run(5)
    assert report.exit_code == EXIT_HELD
    assert rig.directory.writes(calls) == []
    for pid in ("1", "2"):
        account = rig.account_of(pid)
        assert account is not None
        assert account.enabled
        assert account.groups == {"group:dep_SALES"}
    rig.run(5, approve={"dir:disable"})
    assert not rig.account_of("1").enabled
    assert rig.account_of("1").groups == set()


def test_deletion_waits_for_the_whole_grace_after_a_back_dated_end(rig: Rig) -> None:
    rig.run(0)
    rig.hr.end("1", BASE - dt.timedelta(days=200))  # entered late, a year typo, …
    rig.run(1)
    assert not rig.account_of("1").enabled
    rig.run(30)
    assert rig.account_of("1") is not None  # 29 days disabled: kept
    rig.run(31)
    assert rig.account_of("1") is None


def test_a_cancelled_joiner_is_deleted_after_the_grace(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.hr.hire("1", day(10))
    rig.run(0)
    assert rig.account_of("1") is not None
    assert not rig.account_of("1").enabled
    rig.hr.rows["1"]["contracts"] = []  # HR cancels the contract
    rig.run(1)
    rig.run(20)
    assert rig.account_of("1") is not None
    rig.run(31)
    assert rig.account_of("1") is None


def test_an_account_deleted_by_hand_heals(rig: Rig) -> None:
    rig.run(0)
    lost = rig.account_of("1")
    assert lost is not None
    del rig.directory.accounts[lost.reference]
    rig.hr.move("1", "ICT")
    report = rig.run(1)
    assert report.count("failed", "update") == 1
    store = Store(rig.pipeline.state)
    try:
        assert store.account("dir", "1") is None  # the link is gone
        audit = store.audit(person="1", limit=5)
    finally:
        store.close()
    [failed] = [r for r in audit if r["status"] == "failed"]
    assert failed["kind"] == "update"
    assert "its link is removed" in " ".join(failed["messages"])
    rig.run(2)
    healed = rig.account_of("1")
    assert healed is not None
    assert healed.enabled
    assert healed.groups == {"group:dep_ICT"}


def test_a_hand_made_account_is_linked_once_and_never_to_two_persons(rig: Rig) -> None:
    made = rig.directory.add_by_hand("1", enabled=False)
    rig.run(0)
    assert rig.account_of("1") is made
    assert made.enabled
    # Another person whose correlation value is the same is disputed, not linked.
    rig.hr.hire("4", BASE - dt.timedelta(days=400))
    made.data["employeeId"] = "4"
    report = rig.run(1)
    [dispute] = [b for b in report.blocked if b.person == "4"]
    assert "disputed" in dispute.problem
    assert "already linked to person 1" in dispute.problem
    assert report.count("done", "create") == 0  # no second account either
    store = Store(rig.pipeline.state)
    try:
        references = [s.reference for s in store.accounts("dir").values()]
    finally:
        store.close()
    assert len(references) == len(set(references))


def test_a_blocked_action_is_reported_once_and_tried_again_when_it_changes(rig: Rig) -> None:
    rig.run(0)
    rig.directory.blocked[("update", "1")] = "the account is locked by its owner"
    rig.hr.move("1", "ICT")
    first = rig.run(1)
    assert first.count("blocked", "update") == 1
    assert first.exit_code == EXIT_OK  # waiting on a person is no failure
    calls = len(rig.directory.calls)
    again = rig.run(2)
    assert again.counts == {}
    assert [c.hook for c in rig.directory.calls[calls:] if c.person == "1"] == []
    assert any(b.scope == "action" and b.person == "1" for b in again.blocked)
    del rig.directory.blocked[("update", "1")]
    rig.hr.move("1", "HR")
    assert rig.run(3).count("done", "update") == 1
    store = Store(rig.pipeline.state)
    try:
        assert store.blocked_actions("dir") == {}
    finally:
        store.close()


def test_a_no_op_run_writes_nothing_and_a_manager_without_an_account_is_no_update(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, target_extra="")
    rig.hr.hire("1", BASE - dt.timedelta(days=400), manager="9")
    rig.hr.hire("9", BASE - dt.timedelta(days=400), department=None)  # blocked in the target
    rig.run(0)
    calls = len(rig.directory.calls)
    for n in (1, 2):
        assert rig.run(n).counts == {}
    assert rig.directory.writes(calls) == []
