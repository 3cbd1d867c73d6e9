"""The plan preview: what ``idsync plan`` shows, grouped for review.

Actions are grouped per person (in the order they would run) and the persons by their
*transition* (joiner, mover, leaver, returner, vanished, retired) and target, each action with
its reason and, for attributes, the value before and after.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from idsync.engine import RunReport
from idsync.importer import merge
from idsync.plan import Action
from idsync.secrets import redact_data
from idsync.state.search import fold

__all__ = ["TRANSITIONS", "PersonPlan", "PlanView", "plan_view", "transition_of"]

TRANSITIONS = ("joiner", "mover", "leaver", "returner", "vanished", "retired")
UNGROUPED = "other"
"""The group of actions whose plan names no transition (resources, for one)."""


def transition_of(action: Action | dict[str, Any]) -> str:
    """The transition an action belongs to, as the plan names it."""
    value = (
        action.get("transition")
        if isinstance(action, dict)
        else getattr(action, "transition", None)
    )
    value = getattr(value, "value", value)
    return str(value) if value else UNGROUPED


def _order(transition: str) -> int:
    return TRANSITIONS.index(transition) if transition in TRANSITIONS else len(TRANSITIONS)


@dataclass
class PersonPlan:
    """One person's actions in one target."""

    target: str
    person: str | None
    name: str | None
    transition: str
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        """The kinds of action, once each, in order."""
        return list(dict.fromkeys(a["kind"] for a in self.actions))


@dataclass
class PlanView:
    """A plan ready to show: groups, held work, blocked persons."""

    as_of: dt.date
    persons: list[PersonPlan]
    held: list[dict[str, Any]]
    blocked: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    kinds: Counter[str]
    error: str | None = None

    def select(
        self, *, target: str = "", transition: str = "", kind: str = "", text: str = ""
    ) -> list[PersonPlan]:
        """The persons matching the filters (empty ones do not filter)."""
        folded = fold(text)
        return [
            p
            for p in self.persons
            if (not target or p.target == target)
            and (not transition or p.transition == transition)
            and (not kind or kind in p.kinds)
            and (
                not folded
                or folded in fold(p.person or "")
                or folded in fold(p.name or "")
                or any(folded in fold(a.get("key") or "") for a in p.actions)
            )
        ]


def _entry(action: Action) -> dict[str, Any]:
    summary = action.summary()
    return {
        "kind": summary["kind"],
        "key": summary.get("key"),
        "reason": summary["reason"],
        "changes": [
            {"attribute": name.lstrip("@"), "before": c.get("before"), "after": c.get("after")}
            for name, c in summary["changes"].items()
        ],
    }


def plan_view(report: RunReport) -> PlanView:
    """Group a plan's actions for review (secrets masked, as everywhere)."""
    plan = report.plan
    if plan is None:
        return PlanView(
            as_of=dt.date.today(),
            persons=[],
            held=[h.model_dump(mode="json") for h in report.held],
            blocked=[b.model_dump(mode="json") for b in report.blocked],
            groups=[],
            kinds=Counter(),
            error=report.error or "the sources could not be read",
        )
    persons, _ = merge(report.imports)
    held_kinds = {(h.system, h.kind) for h in plan.held}
    people: dict[tuple[str, str | None, str], PersonPlan] = {}
    kinds: Counter[str] = Counter()
    for target in plan.targets.values():
        for index, action in enumerate(target.actions):
            transition = transition_of(action)
            who = action.person if action.person is not None else f"#{index}"
            key = (target.target, who, transition)
            entry = people.get(key)
            if entry is None:
                person = persons.get(action.person or "")
                entry = people[key] = PersonPlan(
                    target=target.target,
                    person=action.person,
                    name=person.display_name if person else None,
                    transition=transition,
                )
            row = _entry(action)
            row["held"] = (target.target, action.kind.value) in held_kinds or (
                target.target,
                transition,
            ) in held_kinds
            entry.actions.append(redact_data(row))
            kinds[action.kind.value] += 1
    ordered = sorted(
        people.values(),
        key=lambda p: (_order(p.transition), p.transition, p.target, p.person or ""),
    )
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for p in ordered:
        group = groups.setdefault(
            (p.transition, p.target),
            {"transition": p.transition, "target": p.target, "persons": 0, "kinds": Counter()},
        )
        group["persons"] += 1
        group["kinds"].update(a["kind"] for a in p.actions)
    return PlanView(
        as_of=plan.as_of,
        persons=ordered,
        held=[h.model_dump(mode="json") for h in plan.held],
        blocked=redact_data([b.model_dump(mode="json") for b in plan.blocked]),
        groups=list(groups.values()),
        kinds=kinds,
    )
