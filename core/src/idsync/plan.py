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
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from idsync import collector
from idsync.config import Pipeline, TargetConfig
from idsync.evaluate import MANAGER_KEY, Candidates, Desired, Evaluator
from idsync.expressions import ExpressionError, Expressions
from idsync.lifecycle import Transition, retire, transition
from idsync.model import ActionKind, Blocked, Change, Department, Permission, Person
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
        "candidates",
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
        candidates: Mapping[str, Sequence[Any]] | None = None,
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
        self.candidates: Mapping[str, Sequence[Any]] = (
            _NOTHING if candidates is None else candidates
        )
        """Unique attributes' remaining candidates, tried at create when the planned one is
        taken (rendered when first read: most creates never need them)."""
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
    """How many accounts idsync managed in the target before the plan."""
    enabled: int = 0
    """How many of those were enabled."""
    transitions: dict[str, Transition] = field(default_factory=dict)
    """``{person: transition}`` of every person with actions."""
    held: dict[str, str] = field(default_factory=dict)
    """``{person: threshold}`` of the persons a threshold holds (resources: ``resource:key``)."""

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
    """Values of unique attributes already used in a target, plus those reserved by this plan."""

    def __init__(self, accounts: Mapping[str, AccountState], attributes: Iterable[str]) -> None:
        self.used: dict[str, dict[Any, str]] = {a: {} for a in attributes}
        for person, shadow in accounts.items():
            for attribute, values in self.used.items():
                value = shadow.data.get(attribute)
                if value not in (None, ""):
                    values[value] = person

    def free(self, attribute: str, person: str, candidates: Sequence[Any]) -> int | None:
        """The position of the first candidate nobody else uses, or None."""
        used = self.used[attribute]
        for i, value in enumerate(candidates):
            if used.get(value, person) == person:
                return i
        return None

    def take(self, attribute: str, person: str, value: Any) -> None:
        """Reserve ``value`` for ``person``."""
        self.used[attribute][value] = person


class _NoPlan(Exception):
    """The person cannot be planned in this target; ``blocked`` says where and why."""

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.problem)
        self.blocked = blocked


def _choose_unique(
    target: str, desired: Desired, shadow: AccountState | None, unique: _Unique
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Sequence[Any]]]:
    """The attributes with unique values chosen, their bases, and the remaining candidates.

    An account keeps its value while its base is unchanged. When every candidate of an
    attribute is taken (or missing), the person is blocked: an account without its user
    name is never planned.
    """
    pid = desired.person
    attributes = dict(desired.attributes)
    base: dict[str, Any] = {}
    candidates: dict[str, Sequence[Any]] = {}
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
            if shadow and kept and (shadow.unique_base or {}).get(attribute) == options[0]:
                attributes[attribute] = kept
                continue
            index = unique.free(attribute, pid, options)
        except ExpressionError as exc:
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
        candidates[attribute] = options[index + 1 :]
    return attributes, base, candidates


def _person_actions(
    target: str,
    desired: Desired,
    shadow: AccountState | None,
    unique: _Unique,
    capable: Callable[[ActionKind], bool],
    *,
    present: bool,
    retiring: bool,
) -> tuple[list[Action], dict[str, Any]]:
    """The person's actions (their transition set on each) and the final desired attributes.

    ``retiring`` says the target will delete retired accounts: a target without a disable
    then still records the day retirement started (a disable without a call).
    """
    pid = desired.person
    actions: list[Action] = []
    reference = shadow.reference if shadow else None
    access = desired.access

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
        attributes, base, candidates = _choose_unique(target, desired, shadow, unique)
        if shadow is None:
            add(
                ActionKind.CREATE,
                account=attributes,
                candidates=candidates,
                unique_base=base,
                manager=desired.manager,
            )
            held: Mapping[str, str | None] = {}
        else:
            changes = _diff(attributes, shadow.data)
            if changes:
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
            access == "disabled"
            and (shadow.enabled or shadow.disabled_on is None)
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
    change = transition(access, shadow, present=present, changes=bool(actions))
    for action in actions:
        action.transition = change
    return actions, attributes


def make_plan(
    pipeline: Pipeline,
    persons: Mapping[str, Person],
    departments: Mapping[str, Department],
    accounts: Mapping[str, Mapping[str, AccountState]],
    resources: Mapping[str, Mapping[str, str | None]],
    expressions: Expressions,
    as_of: dt.date,
    targets: Iterable[str] | None = None,
    capabilities: Mapping[str, Iterable[str]] | None = None,
    *,
    approve: Iterable[str] = (),
    blocked: Mapping[str, Mapping[tuple[str, str, str], BlockedAction]] | None = None,
    digests: Mapping[str, str] | None = None,
) -> Plan:
    """Plan every (chosen, enabled) target for ``persons`` against the stored shadows.

    Targets are evaluated in file order, so a later target's mapping can use an earlier one's
    desired account data as ``accounts.<target>.<attribute>``. ``capabilities`` (``{target:
    hook names}``) leaves out actions a target's plugin does not implement: a target without
    enable/disable has no access lifecycle, one without delete keeps disabled accounts.
    ``approve`` releases holds (``leaver``, ``helloid:disable``); ``blocked`` are actions
    plugins reported blocked (``{target: {(person, kind, key): …}}``): one that would write
    the same again (with the same target settings, ``digests``) is reported, not planned.
    """
    with collector.paused():
        return _make_plan(
            pipeline,
            persons,
            departments,
            accounts,
            resources,
            expressions,
            as_of,
            targets,
            capabilities,
            set(approve),
            blocked or {},
            digests or {},
        )


def _make_plan(
    pipeline: Pipeline,
    persons: Mapping[str, Person],
    departments: Mapping[str, Department],
    accounts: Mapping[str, Mapping[str, AccountState]],
    resources: Mapping[str, Mapping[str, str | None]],
    expressions: Expressions,
    as_of: dt.date,
    targets: Iterable[str] | None,
    capabilities: Mapping[str, Iterable[str]] | None,
    approvals: set[str],
    blocked: Mapping[str, Mapping[tuple[str, str, str], BlockedAction]],
    digests: Mapping[str, str],
) -> Plan:
    plan = Plan(as_of=as_of)
    chosen = set(targets) if targets is not None else None
    other_accounts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for target, shadows in accounts.items():
        for pid, known in shadows.items():
            other_accounts[pid][target] = known.data
    for name, cfg in pipeline.targets.items():
        if not cfg.enabled or (chosen is not None and name not in chosen):
            continue
        evaluator = Evaluator(name, cfg, expressions, as_of)
        shadows = accounts.get(name, {})
        tp = TargetPlan(
            target=name,
            managed=len(shadows),
            enabled=sum(1 for s in shadows.values() if s.enabled),
        )
        have = resources.get(name, {})
        for key, resource_perm in sorted(evaluator.resources(departments).items()):
            if key not in have:
                tp.actions.append(
                    Action(
                        target=name,
                        kind=ActionKind.RESOURCE,
                        key=key,
                        permission=resource_perm,
                        reason="needed by the resource rules",
                    )
                )
        unique = _Unique(shadows, cfg.account.unique)
        hooks = set(capabilities.get(name, ())) if capabilities is not None else None
        capable = {
            kind for kind in ActionKind if hooks is None or f"idsync_{kind.value}" in hooks
        }.__contains__
        retiring = cfg.account.lifecycle.delete_days_after_disable is not None and capable(
            ActionKind.DELETE
        )

        desires: dict[str, Desired] = {}
        for pid in sorted(set(persons) | set(shadows)):
            person = persons.get(pid)
            shadow = shadows.get(pid)
            if person is None and shadow is not None:
                desired = _vanished(pid, cfg, shadow, as_of)
            elif person is not None:
                desired = evaluator.evaluate(person, shadow, other_accounts.get(pid, {}))
                if desired.error is not None:
                    plan.blocked.append(desired.error)
                    continue
            else:
                continue
            desires[pid] = desired
        # Who has an account in this target once the plan has run: a manager reference
        # to anyone else stays empty, and is no change to plan.
        accounted = {pid for pid, shadow in shadows.items() if shadow.reference} | {
            pid for pid, d in desires.items() if d.access in ("pre", "enabled")
        }
        waiting = blocked.get(name, {})
        for pid, desired in desires.items():
            if desired.manager is not None and desired.manager not in accounted:
                desired.manager = None
                desired.attributes[MANAGER_KEY] = None
            shadow = shadows.get(pid)
            try:
                actions, attributes = _person_actions(
                    name,
                    desired,
                    shadow,
                    unique,
                    capable,
                    present=pid in persons,
                    retiring=retiring,
                )
            except _NoPlan as no:
                plan.blocked.append(no.blocked)
                continue
            if waiting:
                actions = _drop_blocked(name, actions, waiting, plan.blocked, digests.get(name, ""))
            if desired.access in ("pre", "enabled"):
                other_accounts[pid][name] = attributes
            if actions:
                tp.transitions[pid] = actions[0].transition or "mover"
            tp.actions.extend(actions)
        plan.targets[name] = tp
        _hold(plan, tp, cfg, approvals)
    return plan


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
