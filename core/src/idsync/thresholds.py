"""Thresholds: the one place that decides whether a run's changes are too many to make alone.

A source's thresholds compare its new import with the last accepted snapshot; a target's count
the *persons* a plan changes, per transition (``leaver``…) and per action kind (``disable``…).
What exceeds a threshold is held: an import as a whole, in a target every person counted by
the exceeded threshold, with all of that person's actions (a held leaver stays enabled and
keeps every permission).

Percentages of destructive changes are taken of the accounts that were *enabled* before the
run; other percentages of the accounts idsync managed before the run. This run's creates never
count towards a base, so many joiners cannot make room for many leavers.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idsync.actions import Action, Hold, Plan, TargetPlan
from idsync.config import TRANSITIONS, TargetConfig, Threshold
from idsync.model import ActionKind

if TYPE_CHECKING:
    from idsync.importer import SourceImport

__all__ = ["DESTRUCTIVE", "Exceeded", "approved", "exceeded"]

DESTRUCTIVE = frozenset({"leaver", "vanished", "retired", "disable", "delete", "revoke"})
"""Transitions and kinds that take access away: measured against the enabled accounts."""


@dataclass(frozen=True)
class Exceeded:
    """One threshold exceeded: ``count`` of ``key`` where ``limit`` are allowed of ``base``."""

    key: str
    count: int
    limit: int
    base: int
    threshold: Threshold

    def reason(self) -> str:
        """``12 leavers exceed the threshold 10% (at least 10) (of 90 enabled accounts
        before the run)``: what a target hold says."""
        verb = "exceeds" if self.count == 1 else "exceed"
        base = "enabled accounts" if self.key in DESTRUCTIVE else "accounts"
        return (
            f"{counted(self.key, self.count)} {verb} the threshold {self.threshold} "
            f"(of {self.base} {base} before the run)"
        )


_COUNTED = {
    "joiner": ("joiner", "joiners"),
    "mover": ("mover", "movers"),
    "leaver": ("leaver", "leavers"),
    "returner": ("returner", "returners"),
    "vanished": ("vanished person", "vanished persons"),
    "retired": ("retired account", "retired accounts"),
    "resource": ("resource to make", "resources to make"),
    "grant": ("person with a grant", "persons with a grant"),
    "revoke": ("person with a revoke", "persons with a revoke"),
}


def counted(key: str, n: int) -> str:
    """``3 leavers``, ``1 person to delete``: what a target threshold counted, in words."""
    one, many = _COUNTED.get(key, (f"person to {key}", f"persons to {key}"))
    return f"{n} {one if n == 1 else many}"


def exceeded(
    thresholds: Mapping[str, Threshold],
    counts: Mapping[str, int],
    bases: Mapping[str, int] | int,
) -> list[Exceeded]:
    """The thresholds ``counts`` exceed, in the order the thresholds are given.

    ``bases`` is one base for all, or a base per key. Exceeding means *more than* the limit.
    """
    out = []
    for key, threshold in thresholds.items():
        n = counts.get(key, 0)
        base = bases if isinstance(bases, int) else bases.get(key, 0)
        limit = threshold.limit(base)
        if n > limit:
            out.append(Exceeded(key=key, count=n, limit=limit, base=base, threshold=threshold))
    return out


def target_bases(keys: Iterable[str], *, managed: int, enabled: int) -> dict[str, int]:
    """The base of each target threshold: enabled accounts for destructive keys, else all
    managed accounts (both as they were before the run)."""
    return {key: enabled if key in DESTRUCTIVE else managed for key in keys}


def approved(approvals: Collection[str], system: str, kind: str) -> bool:
    """Whether ``--approve`` released ``kind`` (everywhere, or in ``system``)."""
    return kind in approvals or f"{system}:{kind}" in approvals


def hold_plan(plan: Plan, tp: TargetPlan, cfg: TargetConfig, approvals: set[str]) -> None:
    """Hold, in a target's plan, every person counted by an exceeded threshold (transition
    or action kind) and not approved; the holds go in ``plan.held``."""
    thresholds = cfg.active_thresholds()
    if not thresholds:
        return
    counted: dict[str, set[str]] = defaultdict(set)
    for pid, change in tp.transitions.items():
        counted[change].add(pid)
    for action in tp.actions:
        counted[action.kind.value].add(action.person or f"resource:{action.key}")
    counts = {key: len(members) for key, members in counted.items()}
    bases = target_bases(thresholds, managed=tp.managed, enabled=tp.enabled)
    for over in exceeded(thresholds, counts, bases):
        if approved(approvals, tp.target, over.key):
            continue
        members = sorted(counted[over.key])
        plan.held.append(
            Hold(
                system=tp.target,
                kind=over.key,
                count=over.count,
                limit=over.limit,
                reason=over.reason(),
                persons=[m for m in members if not m.startswith("resource:")],
            )
        )
        for member in members:
            tp.held.setdefault(member, over.key)


def hold_kinds(
    name: str,
    cfg: TargetConfig,
    actions: list[Action],
    base: int,
    approve: set[str],
    approve_max: dict[str, int],
) -> list[Hold]:
    """The holds of a target's thresholds over actions outside a plan (reconciliation's
    fixes), per action kind, measured against ``base`` accounts; creates (which only link)
    are free. An approval with a ceiling (``approve_max``) releases only that many."""
    counts = Counter(a.kind.value for a in actions if a.kind is not ActionKind.CREATE)
    kinds = {k: t for k, t in cfg.active_thresholds().items() if k not in TRANSITIONS}
    holds = []
    for over in exceeded(kinds, counts, base):
        released = approved(approve, name, over.key)
        ceiling = approve_max.get(over.key)
        if released and (ceiling is None or over.count <= ceiling):
            continue
        reason = f"{over.count} {over.key} actions exceed the threshold {over.threshold} (of {base} accounts)"
        if released:
            reason += f"; approved for at most {ceiling}"
        holds.append(
            Hold(system=name, kind=over.key, count=over.count, limit=over.limit, reason=reason)
        )
    return holds


def import_hold(imp: SourceImport) -> Hold:
    """The hold of an import its source's thresholds held, as a plan lists it."""
    return Hold(
        system=imp.source, kind="import", count=imp.counts["persons"], reason=imp.held or ""
    )


def held_detail(target: TargetPlan, hold: Hold, limit: int = 1000) -> list[dict[str, Any]]:
    """What a hold shows to review: the summaries of the held persons' actions (the first
    ``limit``), every action of each person the threshold counted."""
    persons = set(hold.persons)

    def held_here(action: Action) -> bool:
        if action.person is not None:
            return action.person in persons
        return target.held.get(f"resource:{action.key}") == hold.kind

    mine = (a for a in target.actions if held_here(a))
    return [a.summary() for a in itertools.islice(mine, limit)]


def approve_kinds(values: Iterable[str]) -> set[str]:
    """Validate ``--approve`` values: ``import``, a transition or an action kind, optionally
    scoped to one source or target as ``<system>:<kind>``."""
    allowed = {"import", *TRANSITIONS} | {k.value for k in ActionKind}
    out = set()
    for value in values:
        system, _, kind = value.rpartition(":")
        if kind not in allowed or (system == "" and ":" in value):
            raise ValueError(
                f"cannot approve {value!r}: use import, a transition "
                f"({', '.join(TRANSITIONS)}) or an action kind "
                f"({', '.join(k.value for k in ActionKind)}), optionally as <system>:<kind>"
            )
        out.add(value)
    return out


__all__ += [
    "approve_kinds",
    "counted",
    "held_detail",
    "hold_kinds",
    "hold_plan",
    "import_hold",
    "target_bases",
]
