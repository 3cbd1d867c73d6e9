"""A plan over every target of a pipeline, and each target's part of it."""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from idsync import collector
from idsync.actions import Action, Plan, TargetPlan
from idsync.config import Pipeline, TargetConfig
from idsync.correlation import folder
from idsync.evaluate import MANAGER_KEY, Desired, Evaluator
from idsync.expressions import Expressions
from idsync.model import ActionKind, Blocked, Department, Person
from idsync.plan.correlate import _correlate, _hold_doubtful
from idsync.plan.known import Known
from idsync.plan.person import _desired, _drop_blocked, _person_actions
from idsync.thresholds import hold_plan
from idsync.unique import NoPlan, UniqueValues


def make_plan(
    pipeline: Pipeline,
    persons: Mapping[str, Person],
    departments: Mapping[str, Department],
    known: Mapping[str, Known],
    expressions: Expressions,
    as_of: dt.date,
    targets: Iterable[str] | None = None,
    *,
    approve: Iterable[str] = (),
) -> Plan:
    """Plan every (chosen, enabled) target for ``persons`` against what is ``known`` of each.

    Targets are planned in dependency order (a target whose mapping reads
    ``accounts.<other>`` after ``<other>``), so a later target uses the values the earlier one
    will really have. ``Known.hooks`` leaves out actions a target's plugin does not implement:
    a target without enable/disable has no access lifecycle, one without delete keeps
    disabled accounts. Persons without a linked account are looked up in the target
    (``Known.lookups``): the plan links what it finds, creates what it does not, and blocks
    what is disputed. ``approve`` releases holds (``leaver``, ``helloid:disable``).
    """
    with collector.paused():
        return _make_plan(
            pipeline, persons, departments, known, expressions, as_of, targets, set(approve)
        )


def _make_plan(
    pipeline: Pipeline,
    persons: Mapping[str, Person],
    departments: Mapping[str, Department],
    known: Mapping[str, Known],
    expressions: Expressions,
    as_of: dt.date,
    targets: Iterable[str] | None,
    approvals: set[str],
) -> Plan:
    plan = Plan(as_of=as_of)
    chosen = set(targets) if targets is not None else None
    other_accounts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for target, facts in known.items():
        for pid, shadow in facts.accounts.items():
            other_accounts[pid][target] = shadow.data
    names = [
        name
        for name in pipeline.target_order()
        if pipeline.targets[name].enabled and (chosen is None or name in chosen)
    ]
    for i, name in enumerate(names):
        cfg = pipeline.targets[name]
        facts = known.get(name) or Known()
        tp = _plan_target(
            name,
            cfg,
            persons,
            departments,
            facts,
            expressions,
            as_of,
            plan,
            other_accounts,
            record=i < len(names) - 1,
        )
        plan.targets[name] = tp
        hold_plan(plan, tp, cfg, approvals)
    return plan


def _plan_target(
    name: str,
    cfg: TargetConfig,
    persons: Mapping[str, Person],
    departments: Mapping[str, Department],
    facts: Known,
    expressions: Expressions,
    as_of: dt.date,
    plan: Plan,
    other_accounts: dict[str, dict[str, dict[str, Any]]],
    *,
    record: bool,
) -> TargetPlan:
    """One target's plan. ``record``: keep each person's final attributes in
    ``other_accounts`` for the targets planned after this one (none after the last)."""
    evaluator = Evaluator(name, cfg, expressions, as_of)
    shadows = facts.accounts
    tp = TargetPlan(
        target=name,
        managed=len(shadows),
        enabled=sum(1 for s in shadows.values() if s.enabled),
    )
    for key, resource_perm in sorted(evaluator.resources(departments).items()):
        if key not in facts.resources:
            tp.actions.append(
                Action(
                    target=name,
                    kind=ActionKind.RESOURCE,
                    key=key,
                    permission=resource_perm,
                    reason="needed by the resource rules",
                )
            )
    fold = folder(facts.case_insensitive)
    unique = UniqueValues(shadows, cfg.account.unique, facts.lookups, fold)
    hooks = facts.hooks
    capable = {
        kind for kind in ActionKind if hooks is None or f"idsync_{kind.value}" in hooks
    }.__contains__
    retiring = cfg.account.lifecycle.delete_days_after_disable is not None and capable(
        ActionKind.DELETE
    )

    # Everyone in person order; a person with a linked account is evaluated only when their
    # actions are planned (None here): nothing before that reads their desired state, and
    # a nightly run then holds one person's at a time rather than everyone's.
    desires: dict[str, Desired | None] = {}
    first_blocked = len(plan.blocked)
    for pid in sorted(set(persons) | set(shadows)):
        shadow = shadows.get(pid)
        if shadow is not None and shadow.reference:
            desires[pid] = None
            continue
        desired = _desired(pid, persons, shadow, evaluator, cfg, other_accounts, as_of)
        if desired is None:
            continue
        if desired.error is not None:
            plan.blocked.append(desired.error)
            continue
        desires[pid] = desired
    evaluated_blocked = len(plan.blocked)

    found = _correlate(name, cfg, persons, shadows, desires, facts, unique, plan, tp)
    # Accounts this plan links are in the target already: the bases count them.
    tp.managed += len(found)
    tp.enabled += sum(1 for account in found.values() if account.enabled is not False)
    if cfg.account.correlate is None:
        _hold_doubtful(name, shadows, desires, facts, plan, tp)
    # Who has an account in this target once the plan has run: a manager reference to
    # anyone else stays empty, and is no change to plan.
    accounted = {pid for pid, shadow in shadows.items() if shadow.reference} | {
        pid for pid, d in desires.items() if d is not None and d.access in ("pre", "enabled")
    }
    failed: list[Blocked] = []  # evaluations that failed here, reported in person order
    for pid, desired in desires.items():
        desires[pid] = None  # let go once planned: the actions keep what they need
        if pid in tp.disputed:
            continue
        if desired is None:
            desired = _desired(pid, persons, shadows[pid], evaluator, cfg, other_accounts, as_of)
            if desired is None:
                continue
            if desired.error is not None:
                failed.append(desired.error)
                continue
        if desired.manager is not None and desired.manager not in accounted:
            desired.manager = None
            desired.attributes[MANAGER_KEY] = None
        try:
            actions, attributes = _person_actions(
                name,
                cfg,
                desired,
                shadows.get(pid),
                unique,
                capable,
                present=pid in persons,
                retiring=retiring,
                found=found.get(pid),
                as_of=as_of,
            )
        except NoPlan as no:
            plan.blocked.append(no.blocked)
            continue
        if facts.blocked:
            actions = _drop_blocked(name, actions, facts.blocked, plan.blocked, facts.digest)
        if record and desired.access in ("pre", "enabled"):
            other_accounts[pid][name] = attributes
        if actions:
            tp.transitions[pid] = actions[0].transition or "mover"
        tp.actions.extend(actions)
    if failed:  # where they stand when every person is evaluated first
        plan.blocked[first_blocked:evaluated_blocked] = heapq.merge(
            plan.blocked[first_blocked:evaluated_blocked], failed, key=lambda b: b.person
        )
    return tp
