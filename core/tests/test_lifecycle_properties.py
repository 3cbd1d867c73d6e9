"""Invariants of the lifecycle, over generated organisations and histories (hypothesis).

Each example builds an organisation in the in-memory HR, then lives through a history of
steps — time passing, contracts ending, people moving, joiners, a source hiding people, a
source answering nobody or half — running the real engine after each step, with the default
safeguards, against a real SQLite store. After every run:

- no account is deleted that idsync had not seen disabled for the whole grace period;
- no account is linked to two persons, and nobody has two accounts;
- a person a threshold held had none of their actions carried out;
- an import listing nobody, or missing more than half of the persons, is held, and a held
  import changes nothing in the target;
- after a run that finished with nothing held or failed, a new plan is empty.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from idsync.engine import EXIT_OK, RunReport
from idsync.state import Store
from rig import BASE, Rig

GRACE = 30
DEPARTMENTS = ("A", "B", "C")


@dataclass(frozen=True)
class Contract:
    start: int
    length: int | None
    department: str


@dataclass(frozen=True)
class Step:
    """Days to wait, then one change to the source."""

    wait: int
    change: str
    who: int
    value: int


contracts = st.builds(
    Contract,
    start=st.integers(-300, 40),
    length=st.one_of(st.none(), st.integers(0, 200)),
    department=st.sampled_from(DEPARTMENTS),
)
organisations = st.lists(st.lists(contracts, min_size=1, max_size=2), min_size=2, max_size=9)
steps = st.builds(
    Step,
    wait=st.integers(0, 40),
    change=st.sampled_from(
        # (repeats weigh the ordinary changes over the outages)
        [
            "none",
            "end",
            "end",
            "move",
            "hire",
            "hire",
            "hide",
            "restore",
            "restore",
            "empty",
            "halve",
            "cancel",
            "end",
            "move",
        ]
    ),
    who=st.integers(0, 20),
    value=st.integers(-60, 60),
)


@contextmanager
def _rig() -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="idsync-prop-") as tmp:
        yield Rig(Path(tmp))


def _day(n: int) -> dt.date:
    return BASE + dt.timedelta(days=n)


def _apply(rig: Rig, step: Step, today: int) -> None:
    """Change the source as ``step`` says. A source that answers nobody, or hides people,
    keeps doing so until a ``restore`` step."""
    hr = rig.hr
    ids = sorted(hr.rows)
    pid = ids[step.who % len(ids)]
    if step.change == "end":
        hr.end(pid, _day(today + step.value))
    elif step.change == "move":
        hr.move(pid, DEPARTMENTS[step.value % len(DEPARTMENTS)])
    elif step.change == "hire":
        hr.hire(f"n{len(ids)}", _day(today + abs(step.value) // 4))
    elif step.change == "hide":
        hr.hidden.add(pid)
    elif step.change == "restore":
        hr.hidden.clear()
        hr.answer_empty = False
    elif step.change == "cancel":
        hr.rows[pid]["contracts"] = []
    elif step.change == "empty":
        hr.answer_empty = True
    elif step.change == "halve":
        visible = [p for p in ids if p not in hr.hidden]
        hr.hidden |= set(visible[: len(visible) // 2 + 1])


def _must_hold(rig: Rig) -> bool:
    """Whether the next import must be held whatever the thresholds: it lists nobody, or
    misses more than half of the persons the accepted snapshot has present."""
    store = Store(rig.pipeline.state)
    try:
        known = set(store.person_hashes("hr"))
        present = known - set(store.missing("hr"))
    finally:
        store.close()
    if not present:
        return False
    listed = set() if rig.hr.answer_empty else set(rig.hr.rows) - rig.hr.hidden
    return not listed or 2 * len(present - listed) > len(present)


def _check_run(rig: Rig, before: int, report: RunReport, must_hold: bool) -> None:
    directory = rig.directory
    new = directory.writes(before)
    for hook in sorted({c.hook for c in new}):
        event(f"a run calls {hook}")
    if report.held:
        event("a run holds work")
    import_held = any(h.kind == "import" for h in report.held)
    if must_hold:
        event("an empty or halved import")
        assert import_held, "an empty or halved import was not held"
    if import_held:
        assert new == [], [c.hook for c in new]  # a held import changes nothing
        return
    # A held person had none of their actions carried out.
    if report.plan is not None:
        held = set(report.plan.targets["dir"].held)
        assert not [c for c in new if c.person in held], held
    # Nothing deleted that was not seen disabled for the whole grace.
    history = directory.calls[:before]
    for call in (c for c in new if c.hook == "delete"):
        disables = [
            c.on
            for c in history
            if c.reference == call.reference and c.hook == "disable" and not c.dry_run
        ]
        assert disables, f"{call.reference} deleted without ever being disabled"
        enables_after = [
            c.on
            for c in history
            if c.reference == call.reference and c.hook == "enable" and c.on > max(disables)
        ]
        assert not enables_after
        assert call.on - max(disables) >= dt.timedelta(days=GRACE), (call, disables)


def _check_links(rig: Rig) -> None:
    store = Store(rig.pipeline.state)
    try:
        references = [s.reference for s in store.accounts("dir").values() if s.reference]
    finally:
        store.close()
    assert len(references) == len(set(references)), "an account linked to two persons"
    owners = [e.data.get("employeeId") for e in rig.directory.accounts.values()]
    assert len(owners) == len(set(owners)), "a person with two accounts"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(organisation=organisations, history=st.lists(steps, min_size=1, max_size=7))
def test_lifecycle_invariants(organisation: list[list[Contract]], history: list[Step]) -> None:
    with _rig() as rig:
        for i, person_contracts in enumerate(organisation):
            pid = f"p{i}"
            first, *more = person_contracts
            rig.hr.hire(
                pid,
                _day(first.start),
                _day(first.start + first.length) if first.length is not None else None,
                department=first.department,
            )
            for c in more:
                rig.hr.contract(
                    pid,
                    _day(c.start),
                    _day(c.start + c.length) if c.length is not None else None,
                    department=c.department,
                )
        today = 0
        report = rig.run(today)
        _check_run(rig, 0, report, must_hold=False)
        for step in history:
            today += step.wait
            _apply(rig, step, today)
            must_hold = _must_hold(rig)
            before = len(rig.directory.calls)
            report = rig.run(today)
            _check_run(rig, before, report, must_hold)
            _check_links(rig)
            if report.exit_code == EXIT_OK and not report.held and report.plan is not None:
                again = rig.plan(today)
                assert again.plan is not None
                leftover = list(again.plan.actions())
                assert leftover == [], leftover
