"""The lifecycle rules, one row per scenario: persons and shadows in, the exact plan out.

No HTTP and no store: :func:`idsync.plan.make_plan` is fed persons and the shadows a state
store would hold, and each row names the actions (person, kind, key), the transitions, the
blocks and the holds it must produce. Rows cover the ordinary cases and every way the rules
once took access away wrongly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, get_args

import pytest
from idsync.config import TARGET_DEFAULTS, TRANSITIONS, Pipeline, ThresholdKey
from idsync.expressions import Expressions
from idsync.lifecycle import standing, transition
from idsync.model import ActionKind, Person
from idsync.plan import Known, Plan, make_plan
from idsync.state import AccountState, BlockedAction

AS_OF = dt.date(2026, 3, 1)


def d(offset: int) -> str:
    """A date ``offset`` days from :data:`AS_OF`, as the source writes it."""
    return (AS_OF + dt.timedelta(days=offset)).isoformat()


def person(
    pid: str,
    *contracts: tuple[int, int | None] | tuple[int, int | None, str | None],
    manager: str | None = None,
    family: str = "Vries",
    fte: list[float] | None = None,
) -> dict[str, Any]:
    """A person with contracts ``(start offset, end offset or None[, department])``."""
    rows = []
    for i, contract in enumerate(contracts):
        start, end, *rest = contract
        dep = rest[0] if rest else "SALES"
        row: dict[str, Any] = {
            "external_id": f"{pid}-{i + 1}",
            "start": d(start),
            "end": d(end) if end is not None else None,
            "fte": (fte or [1.0] * len(contracts))[i],
        }
        if dep is not None:
            row["department"] = {"external_id": dep, "code": dep, "name": dep.title()}
        rows.append(row)
    data: dict[str, Any] = {
        "external_id": pid,
        "name": {"given": "Jan", "family": family},
        "contracts": rows,
    }
    if manager:
        data["manager"] = {"external_id": manager}
    return data


def shadow(
    pid: str,
    *,
    enabled: bool = True,
    disabled: int | None = None,
    department: str = "SALES",
    groups: tuple[str, ...] | None = None,
    manager: str | None = None,
    family: str = "Vries",
) -> AccountState:
    """An account as idsync left it: data as the rig's mapping renders, groups granted."""
    data = {"employeeId": pid, "family": family, "department": department, "@manager": manager}
    granted = groups if groups is not None else (f"group:dep_{department}",)
    return AccountState(
        person=pid,
        reference=f"ref-{pid}",
        data=data,
        enabled=enabled,
        disabled_on=AS_OF + dt.timedelta(days=disabled) if disabled is not None else None,
        permissions={g: f"gid-{g}" for g in granted},
    )


TARGET: dict[str, Any] = {
    "plugin": "memdir",
    "account": {
        "correlate": {"person": "external_id", "account": "employeeId"},
        "mapping": {
            "employeeId": "{{ person.external_id }}",
            "family": "{{ person.name.family }}",
            "department": "{{ contract.department.code }}",
        },
        "lifecycle": {
            "create_days_before_start": 14,
            "enable_days_before_start": 3,
            "disable_days_after_end": 0,
            "delete_days_after_disable": 30,
        },
    },
    "permissions": [{"dynamic": "group:dep_{{ contract.department.code }}"}],
}


def plan(
    persons: list[dict[str, Any]],
    shadows: list[AccountState] = (),  # type: ignore[assignment]
    *,
    target: dict[str, Any] | None = None,
    approve: tuple[str, ...] = (),
    blocked: dict[tuple[str, str, str], BlockedAction] | None = None,
    hooks: set[str] | None = None,
    as_of: dt.date = AS_OF,
) -> Plan:
    pipeline = Pipeline.model_validate(
        {"sources": {"hr": {"plugin": "memhr"}}, "targets": {"dir": {**TARGET, **(target or {})}}}
    )
    known = Known(accounts={s.person: s for s in shadows}, hooks=hooks, blocked=blocked or {})
    return make_plan(
        pipeline,
        {p["external_id"]: Person.model_validate(p) for p in persons},
        {},
        {"dir": known},
        Expressions(),
        as_of,
        approve=approve,
    )


def acts(result: Plan) -> list[tuple[str | None, str, str | None]]:
    return [(a.person, a.kind.value, a.key) for a in result.targets["dir"].actions]


@dataclass
class Row:
    """One scenario: what goes in, and the exact plan that must come out."""

    persons: list[dict[str, Any]]
    shadows: list[AccountState] = field(default_factory=list)
    actions: list[tuple[str | None, str, str | None]] = field(default_factory=list)
    transitions: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    """Person → the start of the blocked field."""
    target: dict[str, Any] = field(default_factory=dict)


ROWS: dict[str, Row] = {
    # --- ordinary cases ---------------------------------------------------------------
    "joiner before start: made, not yet enabled": Row(
        [person("1", (10, None))],
        actions=[("1", "create", None), ("1", "grant", "group:dep_SALES")],
        transitions={"1": "joiner"},
    ),
    "joiner within the enable window: made and enabled": Row(
        [person("1", (2, None))],
        actions=[("1", "create", None), ("1", "enable", None), ("1", "grant", "group:dep_SALES")],
        transitions={"1": "joiner"},
    ),
    "joiner far ahead: nothing yet": Row([person("1", (30, None))]),
    "joiner made earlier, enabled on the day": Row(
        [person("1", (2, None))],
        [shadow("1", enabled=False)],
        actions=[("1", "enable", None)],
        transitions={"1": "joiner"},
    ),
    "mover: attribute changed, old group revoked, new one granted": Row(
        [person("1", (-400, None, "ICT"))],
        [shadow("1")],
        actions=[
            ("1", "update", None),
            ("1", "revoke", "group:dep_SALES"),
            ("1", "grant", "group:dep_ICT"),
        ],
        transitions={"1": "mover"},
    ),
    "mover keeps the old department until the new contract starts": Row(
        [person("1", (-400, 9, "SALES"), (10, None, "ICT"))],
        [shadow("1")],
    ),
    "part-time second contract: a group per contract, the attributes of the larger": Row(
        [person("1", (-400, None, "SALES"), (-100, None, "ICT"), fte=[0.4, 0.6])],
        [shadow("1")],
        actions=[("1", "update", None), ("1", "grant", "group:dep_ICT")],
        transitions={"1": "mover"},
    ),
    "contract ending today is still in force": Row([person("1", (-400, 0))], [shadow("1")]),
    "leaver: the day after the last day, disabled and stripped": Row(
        [person("1", (-400, -1))],
        [shadow("1")],
        actions=[("1", "revoke", "group:dep_SALES"), ("1", "disable", None)],
        transitions={"1": "leaver"},
    ),
    "leaver with a future end: nothing yet": Row([person("1", (-400, 20))], [shadow("1")]),
    "returner within the grace period: enabled and granted again": Row(
        [person("1", (-400, -20), (0, None))],
        [shadow("1", enabled=False, disabled=-19, groups=())],
        actions=[("1", "enable", None), ("1", "grant", "group:dep_SALES")],
        transitions={"1": "returner"},
    ),
    "rehire after delete: a joiner again": Row(
        [person("1", (-400, -100), (1, None))],
        actions=[("1", "create", None), ("1", "enable", None), ("1", "grant", "group:dep_SALES")],
        transitions={"1": "joiner"},
    ),
    "disabled 30 days ago: deleted": Row(
        [person("1", (-400, -31))],
        [shadow("1", enabled=False, disabled=-30, groups=())],
        actions=[("1", "delete", None)],
        transitions={"1": "retired"},
    ),
    "disabled 29 days ago: kept": Row(
        [person("1", (-400, -31))], [shadow("1", enabled=False, disabled=-29, groups=())]
    ),
    "a person no longer in any source retires like a leaver": Row(
        [],
        [shadow("1")],
        actions=[("1", "revoke", "group:dep_SALES"), ("1", "disable", None)],
        transitions={"1": "vanished"},
    ),
    "a vanished account disabled long enough is deleted": Row(
        [],
        [shadow("1", enabled=False, disabled=-31, groups=())],
        actions=[("1", "delete", None)],
        transitions={"1": "retired"},
    ),
    # --- what once took access away wrongly ---------------------------------------------
    "a back-dated end disables at once but never deletes at once": Row(
        [person("1", (-800, -400))],
        [shadow("1")],
        actions=[("1", "revoke", "group:dep_SALES"), ("1", "disable", None)],
        transitions={"1": "leaver"},
    ),
    "a never-enabled account records the day its retirement starts": Row(
        [person("1", (-800, -400))],
        [shadow("1", enabled=False, groups=())],
        actions=[("1", "disable", None)],
        transitions={"1": "leaver"},
    ),
    "a contract without a department grants nothing and blocks the person": Row(
        [person("1", (-400, None, None))],
        [shadow("1")],
        blocked={"1": "targets.dir.permissions.0.dynamic"},
    ),
    "a manager who never gets an account is no update": Row(
        [person("1", (-400, None), manager="9"), person("9", (-400, None, "EXT"))],
        [shadow("1", manager=None)],
        target={"account": {**TARGET["account"], "when": "contract.department.code != 'EXT'"}},
    ),
    "a manager who gets an account this run is set": Row(
        [person("1", (-400, None), manager="9"), person("9", (-400, None))],
        [shadow("1", manager=None)],
        actions=[
            ("1", "update", None),
            ("9", "create", None),
            ("9", "enable", None),
            ("9", "grant", "group:dep_SALES"),
        ],
        transitions={"1": "mover", "9": "joiner"},
    ),
    "an out-of-conditions person without an account gets nothing": Row(
        [person("1", (-400, None, "EXT"))],
        target={"account": {**TARGET["account"], "when": "contract.department.code != 'EXT'"}},
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_scenario(name: str) -> None:
    row = ROWS[name]
    result = plan(row.persons, row.shadows, target=row.target)
    assert acts(result) == row.actions
    assert dict(result.targets["dir"].transitions) == row.transitions
    blocked = {b.person: b.field for b in result.blocked}
    assert set(blocked) == set(row.blocked)
    for pid, where in row.blocked.items():
        assert blocked[pid].startswith(where), blocked[pid]
    assert result.held == []
    for action in result.targets["dir"].actions:
        assert action.transition == row.transitions.get(action.person or "")


def test_the_partial_name_is_named_in_the_block() -> None:
    result = plan([person("1", (-400, None, None))], [shadow("1")])
    [block] = result.blocked
    assert "'code'" in block.problem
    assert "nothing is granted" in block.problem
    assert block.scope == "person"


def test_failed_evaluations_are_reported_in_person_order_linked_or_not() -> None:
    # A linked person is evaluated when their actions are planned, the others first (the
    # plan looks them up): the report reads as if everyone had been evaluated first.
    correlate = {"correlate": {"person": "contact.email", "account": "employeeId"}}
    result = plan(
        [
            person("0", (1, None)),  # a joiner without an e-mail address: not looked up
            *(person(pid, (-400, None, None)) for pid in ("1", "2", "3")),
        ],
        [shadow("1"), shadow("3")],
        target={"account": {**TARGET["account"], **correlate}},
    )
    assert [(b.person, b.field) for b in result.blocked] == [
        ("1", "targets.dir.permissions.0.dynamic"),
        ("2", "targets.dir.permissions.0.dynamic"),
        ("3", "targets.dir.permissions.0.dynamic"),
        ("0", "targets.dir.account.correlate"),
    ]
    assert acts(result) == []


# --- unique values --------------------------------------------------------------------

UNIQUE = {
    "account": {
        **TARGET["account"],
        "unique": {"userName": ["j.{{ person.name.family | lower }}{{ suffix }}"]},
    }
}


def test_namesakes_get_the_next_free_candidate_and_the_tenth_is_blocked() -> None:
    persons = [person(str(i), (1, None)) for i in range(1, 11)]
    result = plan(persons, target=UNIQUE)
    names = {
        a.person: a.account["userName"]
        for a in result.targets["dir"].actions
        if a.kind is ActionKind.CREATE
    }
    assert names["1"] == "j.vries"
    assert sorted(names.values()) == ["j.vries", *(f"j.vries{n}" for n in range(2, 10))]
    [block] = result.blocked
    assert block.person == "9"  # persons are planned in id order: "10" comes before "2"
    assert block.field == "targets.dir.account.unique.userName"
    assert "all 9 candidates are taken" in block.problem


def test_a_candidate_with_a_missing_part_is_skipped_for_the_next() -> None:
    target = {
        "account": {
            **TARGET["account"],
            "unique": {
                "userName": ["{{ person.contact.email }}", "j.{{ person.name.family | lower }}"]
            },
        }
    }
    result = plan([person("1", (1, None))], target=target)
    [create] = [a for a in result.targets["dir"].actions if a.kind is ActionKind.CREATE]
    assert create.account["userName"] == "j.vries"


# --- thresholds and holds -------------------------------------------------------------


def _leavers(n: int, of: int) -> tuple[list[dict[str, Any]], list[AccountState]]:
    persons = [person(str(i), (-400, -1 if i < n else None)) for i in range(of)]
    return persons, [shadow(str(i)) for i in range(of)]


def test_a_held_leaver_stays_enabled_with_every_permission() -> None:
    persons, shadows = _leavers(5, 20)
    result = plan(persons, shadows, target={"thresholds": {"disable": 2}})
    [hold] = result.held
    assert (hold.kind, hold.count, hold.limit) == ("disable", 5, 2)
    assert hold.persons == ["0", "1", "2", "3", "4"]
    target = result.targets["dir"]
    for action in target.actions:
        assert target.hold_of(action) == "disable", action  # the revokes too
    assert "5 persons to disable exceed the threshold 2" in hold.reason


def test_a_transition_threshold_holds_every_person_of_it() -> None:
    persons, shadows = _leavers(3, 20)
    persons.append(person("new", (1, None)))
    result = plan(persons, shadows, target={"thresholds": {"leaver": 1}})
    assert [(h.kind, h.persons) for h in result.held] == [("leaver", ["0", "1", "2"])]
    target = result.targets["dir"]
    assert {a.person for a in target.actions if target.hold_of(a)} == {"0", "1", "2"}
    assert target.hold_of(next(a for a in target.actions if a.person == "new")) is None


def test_an_approved_hold_holds_nobody() -> None:
    persons, shadows = _leavers(5, 20)
    result = plan(persons, shadows, target={"thresholds": {"disable": 2}}, approve=("dir:disable",))
    assert result.held == []
    assert result.targets["dir"].held == {}


def test_destructive_bases_are_the_accounts_enabled_before_the_run() -> None:
    # 10 enabled accounts, 2 of them leave, and 30 joiners arrive: 2 > 10% of 10.
    persons, shadows = _leavers(2, 10)
    persons += [person(f"n{i}", (1, None)) for i in range(30)]
    shadows += [shadow(f"off{i}", enabled=False, disabled=-5, groups=()) for i in range(10)]
    persons += [person(f"off{i}", (-400, -6)) for i in range(10)]
    result = plan(persons, shadows, target={"thresholds": {"disable": "10%"}})
    [hold] = result.held
    assert (hold.kind, hold.count, hold.limit) == ("disable", 2, 1)
    assert "(of 10 enabled accounts before the run)" in hold.reason


def test_defaults_hold_mass_leavers_and_let_everyday_ones_pass() -> None:
    persons, shadows = _leavers(10, 100)
    assert plan(persons, shadows).held == []  # 10 of 100: the floor of 10 allows them
    persons, shadows = _leavers(11, 100)
    assert {h.kind for h in plan(persons, shadows).held} == {"disable", "revoke"}
    persons, shadows = _leavers(11, 100)
    assert plan(persons, shadows, target={"thresholds": "off"}).held == []


def test_every_threshold_key_is_a_transition_or_an_action_kind() -> None:
    kinds = {k.value for k in ActionKind if k is not ActionKind.CORRELATE}
    assert set(get_args(ThresholdKey)) == set(TRANSITIONS) | kinds
    assert set(TARGET_DEFAULTS) == {"disable", "delete", "revoke"}


# --- blocked actions and capabilities ------------------------------------------------------


def test_an_action_reported_blocked_waits_until_what_it_writes_changes() -> None:
    persons, shadows = [person("1", (-400, None, "ICT"))], [shadow("1")]
    first = plan(persons, shadows)
    update = next(a for a in first.targets["dir"].actions if a.kind is ActionKind.UPDATE)
    memo = {("1", "update", ""): BlockedAction(update.fingerprint(), "no AFAS user", AS_OF)}
    again = plan(persons, shadows, blocked=memo)
    assert ("1", "update", None) not in acts(again)
    assert ("1", "grant", "group:dep_ICT") in acts(again)  # the rest goes on
    [block] = again.blocked
    assert (block.scope, block.field) == ("action", "targets.dir.update")
    assert "no AFAS user" in block.problem
    moved = plan([person("1", (-400, None, "HR"))], shadows, blocked=memo)
    assert ("1", "update", None) in acts(moved)  # it writes something else now: tried again


def test_a_target_without_disable_still_records_when_retirement_started() -> None:
    hooks = {"idsync_create", "idsync_update", "idsync_delete", "idsync_grant", "idsync_revoke"}
    result = plan([person("1", (-400, -1))], [shadow("1")], hooks=hooks)
    assert acts(result) == [("1", "revoke", "group:dep_SALES"), ("1", "disable", None)]
    never = {**TARGET["account"], "lifecycle": {"delete_days_after_disable": None}}
    result = plan([person("1", (-400, -1))], [shadow("1")], hooks=hooks, target={"account": never})
    assert acts(result) == [("1", "revoke", "group:dep_SALES")]


# --- the lifecycle functions themselves ---------------------------------------------------


@pytest.mark.parametrize(
    ("access", "shadow_state", "present", "expected"),
    [
        ("enabled", None, True, "joiner"),
        ("pre", None, True, "joiner"),
        ("none", None, True, None),
        ("enabled", (False, None), True, "joiner"),
        ("enabled", (False, -10), True, "returner"),
        ("enabled", (True, None), True, "mover"),
        ("pre", (True, None), True, "leaver"),
        ("disabled", (True, None), True, "leaver"),
        ("disabled", (True, None), False, "vanished"),
        ("deleted", (False, -40), True, "retired"),
        ("deleted", (False, -40), False, "retired"),
    ],
)
def test_transition(
    access: Any, shadow_state: tuple[bool, int | None] | None, present: bool, expected: str | None
) -> None:
    state = (
        None
        if shadow_state is None
        else shadow("1", enabled=shadow_state[0], disabled=shadow_state[1])
    )
    assert transition(access, state, present=present, changes=True) == expected
    assert transition(access, state, present=present, changes=False) is None


def test_standing_counts_deletion_from_the_day_idsync_saw_it_disabled() -> None:
    pipeline = Pipeline.model_validate(
        {"sources": {"hr": {"plugin": "x"}}, "targets": {"dir": TARGET}}
    )
    life = pipeline.targets["dir"].account.lifecycle
    contracts = Person.model_validate(person("1", (-800, -400))).contracts
    assert standing(contracts, life, AS_OF, shadow("1")).access == "disabled"
    assert (
        standing(contracts, life, AS_OF, shadow("1", enabled=False, disabled=-29)).access
        == "disabled"
    )
    assert (
        standing(contracts, life, AS_OF, shadow("1", enabled=False, disabled=-30)).access
        == "deleted"
    )
    assert standing(contracts, life, AS_OF, None).access == "none"
