"""Plan: the difference between what should be and what was applied, as ordered actions.

For each target, each person's actions come in lifecycle order (create, update, enable,
revoke, grant, disable, delete), grouped under the person's *transition* (joiner, mover,
leaver, returner, vanished, retired; see :mod:`idsync.lifecycle`); the target's resources come
before everyone's actions. Updates carry only the changed attributes with before and after; an
update that would change nothing is not planned. Thresholds are checked on the plan
(:mod:`idsync.thresholds`): every person counted by an exceeded threshold is held with all of
their actions, and everyone else goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idsync import collector
from idsync.actions import Action, Hold, Plan, TargetPlan
from idsync.config import Correlate, Pipeline, TargetConfig
from idsync.correlation import Lookups, NoLookups, folder, value_at
from idsync.evaluate import MANAGER_KEY, Desired, Evaluator
from idsync.expressions import ExpressionError, Expressions
from idsync.lifecycle import Transition, retire, transition
from idsync.model import (
    Account,
    ActionKind,
    Blocked,
    Change,
    Department,
    Permission,
    Person,
)
from idsync.state import AccountState, BlockedAction
from idsync.thresholds import hold_plan
from idsync.unique import NoPlan, UniqueValues, choose_unique

__all__ = ["Action", "Hold", "Plan", "TargetPlan", "make_plan"]

_ORDER = {kind: i for i, kind in enumerate(ActionKind)}


def _diff(desired: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Change]:
    return {
        key: Change(before=applied.get(key), after=value)
        for key, value in desired.items()
        if applied.get(key) != value
    }


def _linked(desired: Desired, found: Account, as_of: dt.date) -> AccountState:
    """The shadow a link makes of ``found``: its data under the mapping's and the unique
    attributes' keys, as it is (the enforcer records the same)."""
    keys = [k for k in (*desired.attributes, *desired.unique) if not k.startswith("@")]
    data = {k: found.data.get(k) for k in keys}
    enabled = found.enabled is not False
    return AccountState(
        person=desired.person,
        reference=found.reference,
        data=data,
        enabled=enabled,
        disabled_on=None if enabled else as_of,
    )


def _person_actions(
    target: str,
    cfg: TargetConfig,
    desired: Desired,
    shadow: AccountState | None,
    unique: UniqueValues,
    capable: Callable[[ActionKind], bool],
    *,
    present: bool,
    retiring: bool,
    found: Account | None = None,
    as_of: dt.date,
) -> tuple[list[Action], dict[str, Any]]:
    """The person's actions (their transition set on each) and the final desired attributes.

    ``found`` is an account the plan's lookups matched to a person idsync had none linked
    for: it is linked first (``correlate``), then brought to the desired state like any
    account (or, for a leaver, retired). ``retiring`` says the target will delete retired
    accounts: a target without a disable then still records the day retirement started.
    """
    pid = desired.person
    actions: list[Action] = []
    access = desired.access
    if found is not None:
        actions.append(
            Action(
                target=target,
                person=pid,
                kind=ActionKind.CORRELATE,
                reason=f"an existing account matches ({cfg.account.correlate.account if cfg.account.correlate else ''})",
                reference=found.reference,
                found=found,
            )
        )
        shadow = _linked(desired, found, as_of)
    reference = shadow.reference if shadow else None

    def add(kind: ActionKind, **values: Any) -> None:
        if not capable(kind):
            return
        actions.append(
            Action(
                target=target,
                person=pid,
                kind=kind,
                reason=desired.reason,
                reference=reference,
                **values,
            )
        )

    attributes = dict(desired.attributes)
    if access in ("pre", "enabled"):
        attributes, base = choose_unique(target, cfg, desired, shadow, unique, reference)
        if shadow is None:
            add(ActionKind.CREATE, account=attributes, unique_base=base, manager=desired.manager)
            granted: Mapping[str, str | None] = {}
        else:
            changes = _diff(attributes, shadow.data)
            if changes and (found is None or cfg.account.update_on_correlate):
                add(
                    ActionKind.UPDATE,
                    account=attributes,
                    changes=changes,
                    unique_base=base,
                    manager=desired.manager,
                )
            granted = shadow.permissions
        if access == "enabled" and (shadow is None or not shadow.enabled):
            add(ActionKind.ENABLE, account=attributes)  # where the account belongs, e.g. its OU
        for key in sorted(set(granted) - set(desired.permissions)):
            add(
                ActionKind.REVOKE, key=key, permission=Permission.parse(key, reference=granted[key])
            )
        for key in sorted(set(desired.permissions) - set(granted)):
            add(ActionKind.GRANT, key=key, permission=desired.permissions[key])
        if access == "pre" and shadow is not None and shadow.enabled:
            add(ActionKind.DISABLE)
    elif shadow is not None:
        for key in sorted(shadow.permissions):
            add(
                ActionKind.REVOKE,
                key=key,
                permission=Permission.parse(key, reference=shadow.permissions[key]),
            )
        # Also a never-enabled account: the day its retirement starts is recorded.
        if (
            access in ("disabled", "none")
            and (shadow.enabled or (shadow.disabled_on is None and found is None))
            and (capable(ActionKind.DISABLE) or retiring)
        ):
            actions.append(
                Action(
                    target=target,
                    person=pid,
                    kind=ActionKind.DISABLE,
                    reason=desired.reason,
                    reference=reference,
                )
            )
        if access == "deleted":
            add(ActionKind.DELETE)
    actions.sort(key=lambda a: _ORDER[a.kind])
    if found is not None and access not in ("pre", "enabled"):
        change: Transition | None = "leaver"  # an account found for a leaver retires
    else:
        change = transition(
            access, None if found else shadow, present=present, changes=bool(actions)
        )
    for action in actions:
        action.transition = change
    return actions, attributes


@dataclass
class Known:
    """What a plan knows of one target before it starts (the engine reads it; tests give it).

    ``accounts`` are the shadows by person; ``resources`` the resources made; ``hooks`` the
    hooks the plugin implements (None: all); ``blocked`` the actions reported blocked and
    ``digest`` the settings' hash they were blocked with; ``lookups`` answers questions to the
    target itself; ``checked`` the persons already looked up as leavers (person → the value
    they were looked up with); ``case_insensitive`` whether the target ignores letter case.
    """

    accounts: Mapping[str, AccountState] = field(default_factory=dict)
    resources: Mapping[str, str | None] = field(default_factory=dict)
    hooks: set[str] | None = None
    blocked: Mapping[tuple[str, str, str], BlockedAction] = field(default_factory=dict)
    digest: str = ""
    lookups: Lookups = field(default_factory=NoLookups)
    checked: Mapping[str, str] = field(default_factory=dict)
    case_insensitive: bool = False
    doubtful: Mapping[str, int] = field(default_factory=dict)
    """Persons whose create an interrupted run left in doubt (person → that run)."""


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


def _desired(
    pid: str,
    persons: Mapping[str, Person],
    shadow: AccountState | None,
    evaluator: Evaluator,
    cfg: TargetConfig,
    other_accounts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    as_of: dt.date,
) -> Desired | None:
    """The person's desired state in the target (``error`` set when evaluation failed), a
    vanished person's retirement, or None for neither."""
    person = persons.get(pid)
    if person is not None:
        return evaluator.evaluate(person, shadow, other_accounts.get(pid, {}))
    if shadow is not None:
        return _vanished(pid, cfg, shadow, as_of)
    return None


def _correlation_value(
    correlate: Correlate, person: Person | None, desired: Desired, unique: UniqueValues
) -> Any:
    """The person's side of the correlation: a path into the person, or (``account.…``) a
    value of the desired account; for a unique attribute, the first candidate no other person
    of idsync's holds (the value the person's account has, when it exists)."""
    if correlate.on_account:
        key = correlate.person.removeprefix("account.")
        if key in desired.unique:
            value = unique.ours(key, desired.person, desired.unique[key])
            if value is not None:  # a namesake planned after this person gets the next one
                unique.take(key, desired.person, value)
            return value
        return desired.attributes.get(key)
    return value_at(person, correlate.person.removeprefix("person."))


def _correlate(
    name: str,
    cfg: TargetConfig,
    persons: Mapping[str, Person],
    shadows: Mapping[str, AccountState],
    desires: Mapping[str, Desired | None],
    facts: Known,
    unique: UniqueValues,
    plan: Plan,
    tp: TargetPlan,
) -> dict[str, Account]:
    """Look up the persons without a linked account: ``{person: account}`` to link.

    Joiners (due an account) are looked up to link an account that exists instead of
    creating a second; leavers (known to the source, due none) to retire an account made for
    them outside idsync, when the correlation is on a stable key of the person. A person
    matching several accounts, an account another person owns, or one account two persons
    match, is *disputed*: blocked with both ids, nothing done for them here.
    """
    correlate = cfg.account.correlate
    if correlate is None:
        return {}
    where = f"targets.{name}.account.correlate"
    wanted: dict[str, Any] = {}
    leavers: set[str] = set()
    for pid, desired in desires.items():
        if pid in shadows or desired is None:
            continue
        joiner = desired.access in ("pre", "enabled")
        leaver = desired.leaver and correlate.leavers and not correlate.on_account
        if not (joiner or leaver):
            continue
        try:
            value = _correlation_value(correlate, persons.get(pid), desired, unique)
        except ExpressionError as exc:
            plan.blocked.append(Blocked(person=pid, field=where, problem=str(exc)))
            tp.disputed.add(pid)
            continue
        if value in (None, ""):
            if joiner:  # without it, an existing account cannot be found: never guess
                plan.blocked.append(
                    Blocked(
                        person=pid,
                        field=where,
                        problem=f"no value for {correlate.person}: an existing account "
                        "cannot be looked up, so none is created",
                    )
                )
                tp.disputed.add(pid)
            continue
        if leaver and facts.checked.get(pid) == _memo(unique.fold(value)):
            continue  # looked up before with this value, and nothing was found
        wanted[pid] = value
        if desired.leaver:
            leavers.add(pid)
    if not wanted:
        return {}
    try:
        facts.lookups.prepare({unique.fold(v) for v in wanted.values()})
    except Exception as exc:
        problem = f"the accounts of {name} could not be read: {type(exc).__name__}: {exc}"
        for pid in wanted:
            plan.blocked.append(Blocked(person=pid, field=where, problem=problem[:500]))
            tp.disputed.add(pid)
        return {}
    owned = {_ref(s.reference): pid for pid, s in shadows.items() if s.reference}
    claims: dict[str, list[str]] = defaultdict(list)
    matched: dict[str, Account] = {}
    for pid, value in wanted.items():
        try:
            accounts = facts.lookups.matches(value)
        except Exception as exc:
            plan.blocked.append(
                Blocked(
                    person=pid,
                    field=where,
                    problem=f"looking up {correlate.account} = {value!r} failed: "
                    f"{type(exc).__name__}: {exc}"[:500],
                )
            )
            tp.disputed.add(pid)
            continue
        if not accounts:
            if pid in leavers:
                tp.checked[pid] = _memo(unique.fold(value))
            continue
        refs = ", ".join(a.reference for a in accounts[:5])
        if len(accounts) > 1:
            _dispute(
                plan,
                tp,
                pid,
                where,
                f"{len(accounts)} accounts have {correlate.account} = {value!r} ({refs})",
            )
            continue
        owner = owned.get(_ref(accounts[0].reference))
        if owner is not None and owner != pid:
            _dispute(
                plan,
                tp,
                pid,
                where,
                f"the account with {correlate.account} = {value!r} ({refs}) is already "
                f"linked to person {owner}",
            )
            continue
        claims[_ref(accounts[0].reference)].append(pid)
        matched[pid] = accounts[0]
    for claimants in claims.values():
        if len(claimants) > 1:
            for pid in claimants:
                others = ", ".join(p for p in claimants if p != pid)
                _dispute(
                    plan,
                    tp,
                    pid,
                    where,
                    f"the account {matched[pid].reference} matches person {others} too",
                )
                matched.pop(pid, None)
    return matched


def _hold_doubtful(
    name: str,
    shadows: Mapping[str, AccountState],
    desires: Mapping[str, Desired | None],
    facts: Known,
    plan: Plan,
    tp: TargetPlan,
) -> None:
    """Without correlation the plan cannot look for an account an interrupted run may have
    made: such a person gets no second create, and is blocked until it can look."""
    for pid, run in facts.doubtful.items():
        desired = desires.get(pid)
        if pid in shadows or desired is None or desired.access not in ("pre", "enabled"):
            continue
        plan.blocked.append(
            Blocked(
                person=pid,
                field=f"targets.{name}.account.correlate",
                problem=f"run {run} was interrupted while creating this account: it may exist, "
                "and without account.correlate the plan cannot look for it, so none is "
                "created; configure account.correlate",
            )
        )
        tp.disputed.add(pid)


def _dispute(plan: Plan, tp: TargetPlan, pid: str, where: str, problem: str) -> None:
    plan.blocked.append(Blocked(person=pid, field=where, problem=f"disputed: {problem}"))
    tp.disputed.add(pid)


def _ref(reference: str | None) -> str:
    """An account reference in the form references are compared (ids ignore case)."""
    return (reference or "").strip().casefold()


def _memo(value: Any) -> str:
    """How a leaver lookup's value is remembered: a short hash, not the value itself."""
    return hashlib.blake2b(str(value).encode(), digest_size=8).hexdigest()


def _drop_blocked(
    target: str,
    actions: list[Action],
    waiting: Mapping[tuple[str, str, str], BlockedAction],
    blocked: list[Blocked],
    salt: str,
) -> list[Action]:
    """``actions`` without the ones a plugin reported blocked that would write the same
    again; each is reported as blocked instead."""
    out = []
    for action in actions:
        known = waiting.get((action.person or "", action.kind.value, action.key or ""))
        if known is not None and known.fingerprint == action.fingerprint(salt):
            blocked.append(
                Blocked(
                    person=action.person or "",
                    field=f"targets.{target}.{action.kind.value}",
                    problem=f"{known.message} (blocked since {known.since.isoformat()}; "
                    "tried again when what it writes changes)",
                    scope="action",
                )
            )
            continue
        out.append(action)
    return out


def _vanished(pid: str, cfg: TargetConfig, shadow: AccountState, as_of: dt.date) -> Desired:
    """A person idsync manages an account for who is no longer in any source (after the
    source's grace for missing persons): the account retires like a leaver's."""
    stand = retire("person is no longer in the source", shadow, cfg.account.lifecycle, as_of)
    if stand.access == "deleted":
        return Desired(person=pid, access=stand.access, reason=stand.reason)
    return Desired(
        person=pid, access=stand.access, reason=stand.reason, attributes=dict(shadow.data)
    )


__all__ += ["MANAGER_KEY"]
