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
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from idsync import collector
from idsync.config import Correlate, Pipeline, TargetConfig
from idsync.correlation import Lookups, NoLookups, folder, value_at
from idsync.evaluate import MANAGER_KEY, Candidates, Desired, Evaluator
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
from idsync.thresholds import approved, exceeded, target_bases

__all__ = ["Action", "Hold", "Plan", "TargetPlan", "make_plan"]

_ORDER = {kind: i for i, kind in enumerate(ActionKind)}


_NOTHING: Mapping[str, Any] = MappingProxyType({})


class Action:
    """One planned action for one person (or, for resources, the target).

    A plan holds hundreds of thousands of these on the first run of a large organisation, so
    an action is a plain slotted object that shares what it is given (the desired account
    data, the permission) rather than a validated copy, and a create keeps its attributes
    once: its :attr:`changes` are derived from :attr:`account` when read.
    """

    __slots__ = (
        "_changes",
        "account",
        "found",
        "key",
        "kind",
        "manager",
        "permission",
        "person",
        "reason",
        "reference",
        "target",
        "transition",
        "unique_base",
    )

    def __init__(
        self,
        *,
        target: str,
        kind: ActionKind,
        person: str | None = None,
        key: str | None = None,
        changes: Mapping[str, Change] | None = None,
        reason: str = "",
        account: Mapping[str, Any] | None = None,
        found: Account | None = None,
        unique_base: Mapping[str, Any] | None = None,
        permission: Permission | None = None,
        manager: str | None = None,
        reference: str | None = None,
        transition: Transition | None = None,
    ) -> None:
        self.target = target
        self.kind = kind
        self.person = person
        self.key = key
        """The permission or resource key (``group:Sales``) for grant, revoke and resource."""
        self._changes = changes
        self.reason = reason
        self.account: Mapping[str, Any] = _NOTHING if account is None else account
        """The desired account attributes (create and update)."""
        self.found = found
        """For a link (``correlate``): the existing account the plan found and links."""
        self.unique_base: Mapping[str, Any] = _NOTHING if unique_base is None else unique_base
        self.permission = permission
        self.manager = manager
        self.reference = reference
        self.transition: Transition | None = transition
        """The person's transition this action belongs to (None for a resource)."""

    @property
    def changes(self) -> Mapping[str, Change]:
        """The attributes this action writes, with before and after.

        An update's are the ones that differ; a create's are all of its account's, from
        nothing (derived here, so the plan holds them once).
        """
        if self._changes is not None:
            return self._changes
        if self.kind is ActionKind.CREATE:
            return {k: Change(after=v) for k, v in self.account.items()}
        return _NOTHING

    def replace(self, **values: Any) -> Action:
        """A copy with ``values`` (the constructor's keywords) changed."""
        fields = {name: getattr(self, name) for name in self.__slots__ if name != "_changes"}
        fields["changes"] = self._changes
        return Action(**{**fields, **values})

    def summary(self) -> dict[str, Any]:
        """The action as ``--json`` prints it."""
        out: dict[str, Any] = {
            "target": self.target,
            "person": self.person,
            "kind": self.kind.value,
            "changes": {k: v.model_dump(mode="json") for k, v in self.changes.items()},
            "reason": self.reason,
        }
        if self.key:
            out["key"] = self.key
        if self.transition:
            out["transition"] = self.transition
        return out

    def fingerprint(self, salt: str = "") -> str:
        """What the action would write (and ``salt``: the target's settings), as a short hash:
        an action that a plugin reported *blocked* is not tried again until it changes."""
        after = {k: v.after for k, v in sorted(self.changes.items())}
        text = json.dumps([self.kind.value, self.key, after, salt], default=str, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()

    def __repr__(self) -> str:
        key = f" {self.key}" if self.key else ""
        return f"<Action {self.target} {self.kind.value}{key} person={self.person!r}>"


class Hold(BaseModel):
    """Work held by a threshold: a source's import, or in a target the persons counted by a
    transition (``leaver``…) or an action kind (``disable``…) that exceeded its threshold."""

    system: str
    kind: str
    """``import``, a transition or an action kind."""
    count: int
    limit: int | None = None
    reason: str
    persons: list[str] = []
    """The persons held (every action of each), in a target."""


@dataclass
class TargetPlan:
    """A target's actions, grouped by person in lifecycle order."""

    target: str
    actions: list[Action] = field(default_factory=list)
    managed: int = 0
    """How many accounts the target had before the run that idsync manages or this plan
    links (the base of a threshold)."""
    enabled: int = 0
    """How many of those were enabled (the base of a destructive threshold)."""
    transitions: dict[str, Transition] = field(default_factory=dict)
    """``{person: transition}`` of every person with actions."""
    held: dict[str, str] = field(default_factory=dict)
    """``{person: threshold}`` of the persons a threshold holds (resources: ``resource:key``)."""
    disputed: set[str] = field(default_factory=set)
    """Persons the plan could not decide an account for (blocked, with the reason)."""
    checked: dict[str, str] = field(default_factory=dict)
    """Leavers looked up in the target without a match (person → the looked-up value's
    hash): not looked up again until the value changes."""

    def counts(self) -> Counter[str]:
        """``{kind: n}``."""
        return Counter(a.kind.value for a in self.actions)

    def transition_counts(self) -> Counter[str]:
        """``{transition: persons}``."""
        return Counter(map(str, self.transitions.values()))

    def hold_of(self, action: Action) -> str | None:
        """The threshold that holds ``action`` (with the rest of its person's), or None."""
        return self.held.get(action.person or f"resource:{action.key}")


@dataclass
class Plan:
    """Everything a run would do."""

    as_of: dt.date
    targets: dict[str, TargetPlan] = field(default_factory=dict)
    blocked: list[Blocked] = field(default_factory=list)
    held: list[Hold] = field(default_factory=list)
    lookups: dict[str, int] = field(default_factory=dict)
    """``{target: requests}`` the plan sent to read each target (for persons to link)."""

    def actions(self) -> Iterable[Action]:
        """Every action, target by target."""
        for target in self.targets.values():
            yield from target.actions

    def held_kinds(self, target: str) -> set[str]:
        """The thresholds (transitions and kinds) held in ``target``."""
        return {h.kind for h in self.held if h.system == target}

    def as_json(self) -> dict[str, Any]:
        """``{"actions": [...], "held": [...], "blocked": [...]}``."""
        return {
            "as_of": self.as_of.isoformat(),
            "actions": [a.summary() for a in self.actions()],
            "transitions": {
                name: dict(sorted(tp.transition_counts().items()))
                for name, tp in self.targets.items()
            },
            "held": [h.model_dump(mode="json") for h in self.held],
            "blocked": [b.model_dump(mode="json") for b in self.blocked],
        }


def _diff(desired: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Change]:
    return {
        key: Change(before=applied.get(key), after=value)
        for key, value in desired.items()
        if applied.get(key) != value
    }


class _Unique:
    """Values of unique attributes already used in a target (by idsync's accounts, by the
    target's others as the lookups tell) plus those this plan reserves, compared the way the
    target compares them."""

    def __init__(
        self,
        accounts: Mapping[str, AccountState],
        attributes: Iterable[str],
        lookups: Lookups,
        fold: Callable[[Any], Any],
    ) -> None:
        self.fold = fold
        self.lookups = lookups
        self.used: dict[str, dict[Any, str]] = {a: {} for a in attributes}
        self.refs = {pid: s.reference for pid, s in accounts.items() if s.reference}
        for person, shadow in accounts.items():
            for attribute, values in self.used.items():
                value = shadow.data.get(attribute)
                if value not in (None, ""):
                    values[fold(value)] = person

    def free(
        self, attribute: str, person: str, candidates: Sequence[Any], own: str | None = None
    ) -> int | None:
        """The position of the first candidate nobody else uses, or None. ``own`` is the
        reference of the person's account (linked or about to be), whose values are theirs."""
        used = self.used[attribute]
        mine = {r for r in (own, self.refs.get(person)) if r}
        for i, value in enumerate(candidates):
            key = self.fold(value)
            holder = used.get(key)
            if holder is not None:
                if holder == person:
                    return i
                continue
            try:
                held_by = self.lookups.holder(attribute, value)
            except Exception as exc:
                raise _Unreadable(
                    f"checking {attribute} = {value!r} in the target failed: "
                    f"{type(exc).__name__}: {exc}"[:500]
                ) from None
            if held_by is None or held_by in mine:
                return i
        return None

    def ours(self, attribute: str, person: str, candidates: Sequence[Any]) -> Any:
        """The first candidate no other person's account holds, as idsync knows them (the
        target not asked), or None."""
        used = self.used[attribute]
        for value in candidates:
            if used.get(self.fold(value), person) == person:
                return value
        return None

    def take(self, attribute: str, person: str, value: Any) -> None:
        """Reserve ``value`` for ``person``."""
        self.used[attribute][self.fold(value)] = person


class _Unreadable(Exception):
    """The target could not answer whether a unique value is free."""


class _NoPlan(Exception):
    """The person cannot be planned in this target; ``blocked`` says where and why."""

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.problem)
        self.blocked = blocked


def _choose_unique(
    target: str,
    cfg: TargetConfig,
    desired: Desired,
    shadow: AccountState | None,
    unique: _Unique,
    own: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes with unique values chosen, and their bases (first candidates).

    An account keeps its value (``rename: keep``), or keeps it while its base is unchanged
    (``rename: regenerate``). A new one gets the first candidate free in idsync's accounts and
    in the target. When every candidate of an attribute is taken (or missing), the person is
    blocked: an account without its user name is never planned.
    """
    pid = desired.person
    attributes = dict(desired.attributes)
    base: dict[str, Any] = {}
    choices: list[tuple[str, Candidates, int]] = []
    for attribute, options in desired.unique.items():
        where = f"targets.{target}.account.unique.{attribute}"
        try:  # reading past the first round renders the later ones
            if not options:
                raise _NoPlan(
                    Blocked(person=pid, field=where, problem="no candidate renders a value")
                )
            base[attribute] = options[0]
            kept = shadow.data.get(attribute) if shadow else None
            if kept:
                renamed = (
                    (shadow.unique_base or {}).get(attribute) != options[0] if shadow else False
                )
                if not renamed or cfg.account.unique[attribute].rename == "keep":
                    attributes[attribute] = kept
                    continue
            index = unique.free(attribute, pid, options, own)
        except ExpressionError as exc:
            raise _NoPlan(Blocked(person=pid, field=where, problem=str(exc))) from None
        except _Unreadable as exc:
            raise _NoPlan(Blocked(person=pid, field=where, problem=str(exc))) from None
        if index is None:
            shown = ", ".join(map(str, list(options)[:3]))
            raise _NoPlan(
                Blocked(
                    person=pid,
                    field=where,
                    problem=f"all {len(options)} candidates are taken ({shown}, …)",
                )
            )
        choices.append((attribute, options, index))
    for attribute, options, index in choices:  # nothing is reserved before all could choose
        attributes[attribute] = options[index]
        unique.take(attribute, pid, options[index])
    return attributes, base


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
    unique: _Unique,
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
        attributes, base = _choose_unique(target, cfg, desired, shadow, unique, reference)
        if shadow is None:
            add(ActionKind.CREATE, account=attributes, unique_base=base, manager=desired.manager)
            held: Mapping[str, str | None] = {}
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
            held = shadow.permissions
        if access == "enabled" and (shadow is None or not shadow.enabled):
            add(ActionKind.ENABLE, account=attributes)  # where the account belongs, e.g. its OU
        for key in sorted(set(held) - set(desired.permissions)):
            add(ActionKind.REVOKE, key=key, permission=Permission.parse(key, reference=held[key]))
        for key in sorted(set(desired.permissions) - set(held)):
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
        _hold(plan, tp, cfg, approvals)
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
    unique = _Unique(shadows, cfg.account.unique, facts.lookups, fold)
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
        except _NoPlan as no:
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
    correlate: Correlate, person: Person | None, desired: Desired, unique: _Unique
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
    unique: _Unique,
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


def _hold(plan: Plan, tp: TargetPlan, cfg: TargetConfig, approvals: set[str]) -> None:
    """Hold every person counted by an exceeded threshold (transition or action kind)."""
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


__all__ += ["MANAGER_KEY"]
