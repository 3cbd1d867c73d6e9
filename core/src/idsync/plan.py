"""Plan: the difference between what should be and what was applied, as ordered actions.

For each target, each person's actions come in lifecycle order (create, update, enable,
revoke, grant, disable, delete); the target's resources come before everyone's actions.
Updates carry only the changed attributes with before and after. Thresholds are checked on the
plan: a kind that exceeds its maximum is held as a whole and the other kinds go on.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from idsync import collector
from idsync.config import Pipeline, TargetConfig
from idsync.evaluate import MANAGER_KEY, Candidates, Desired, Evaluator, retirement
from idsync.expressions import ExpressionError, Expressions
from idsync.model import ActionKind, Blocked, Change, Department, Permission, Person
from idsync.state import AccountState

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
        return out

    def __repr__(self) -> str:
        key = f" {self.key}" if self.key else ""
        return f"<Action {self.target} {self.kind.value}{key} person={self.person!r}>"


class Hold(BaseModel):
    """Work held by a threshold: a source's import or a target's action kind."""

    system: str
    kind: str
    """``import`` or an action kind."""
    count: int
    limit: int | None = None
    reason: str


@dataclass
class TargetPlan:
    """A target's actions, grouped by person in lifecycle order."""

    target: str
    actions: list[Action] = field(default_factory=list)
    managed: int = 0
    """How many accounts idsync managed in the target before the plan."""

    def counts(self) -> Counter[str]:
        """``{kind: n}``."""
        return Counter(a.kind.value for a in self.actions)


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
        """The kinds held in ``target``."""
        return {h.kind for h in self.held if h.system == target}

    def as_json(self) -> dict[str, Any]:
        """``{"actions": [...], "held": [...], "blocked": [...]}``."""
        return {
            "as_of": self.as_of.isoformat(),
            "actions": [a.summary() for a in self.actions()],
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


class _Unrenderable(Exception):
    """A unique attribute's later candidates failed to render while choosing among them."""

    def __init__(self, attribute: str, error: ExpressionError) -> None:
        super().__init__(str(error))
        self.attribute = attribute


def _person_actions(
    target: str,
    desired: Desired,
    shadow: AccountState | None,
    unique: _Unique,
    capable: Callable[[ActionKind], bool],
) -> tuple[list[Action], dict[str, Any]]:
    """The person's actions and the final desired attributes (unique values chosen)."""
    pid = desired.person
    actions: list[Action] = []
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
    base: dict[str, Any] = {}
    candidates: dict[str, Sequence[Any]] = {}
    choices: list[tuple[str, Candidates, int | None]] = []
    for attribute, options in desired.unique.items():
        if not options:
            continue
        base[attribute] = options[0]
        kept = shadow.data.get(attribute) if shadow else None
        if shadow and kept and (shadow.unique_base or {}).get(attribute) == options[0]:
            attributes[attribute] = kept
            continue
        try:  # reading past the first round renders the later ones
            choices.append((attribute, options, unique.free(attribute, pid, options)))
        except ExpressionError as exc:
            raise _Unrenderable(attribute, exc) from None
    for attribute, options, index in choices:  # nothing is reserved before all could choose
        if index is not None:
            attributes[attribute] = options[index]
            unique.take(attribute, pid, options[index])
            candidates[attribute] = options[index + 1 :]

    access = desired.access
    if access in ("pre", "enabled"):
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
            add(ActionKind.ENABLE)
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
        if access == "disabled" and shadow.enabled:
            add(ActionKind.DISABLE)
        if access == "deleted":
            add(ActionKind.DELETE)
    actions.sort(key=lambda a: _ORDER[a.kind])
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
) -> Plan:
    """Plan every (chosen, enabled) target for ``persons`` against the stored shadows.

    Targets are evaluated in file order, so a later target's mapping can use an earlier one's
    desired account data as ``accounts.<target>.<attribute>``. ``capabilities`` (``{target:
    hook names}``) leaves out actions a target's plugin does not implement: a target without
    enable/disable has no access lifecycle, one without delete keeps disabled accounts.
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
        tp = TargetPlan(target=name, managed=len(shadows))
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

        for pid in sorted(set(persons) | set(shadows)):
            person = persons.get(pid)
            shadow = shadows.get(pid)
            if person is None:
                assert shadow is not None
                desired = _vanished(pid, cfg, shadow, as_of)
            else:
                desired = evaluator.evaluate(person, shadow, other_accounts.get(pid, {}))
                if desired.error is not None:
                    plan.blocked.append(desired.error)
                    continue
            try:
                actions, attributes = _person_actions(name, desired, shadow, unique, capable)
            except _Unrenderable as exc:
                plan.blocked.append(
                    Blocked(
                        person=pid,
                        field=f"targets.{name}.account.unique.{exc.attribute}",
                        problem=str(exc),
                    )
                )
                continue
            if desired.access in ("pre", "enabled"):
                other_accounts[pid][name] = attributes
            tp.actions.extend(actions)
        plan.targets[name] = tp
        _check_thresholds(plan, tp, cfg)
    return plan


def _vanished(pid: str, cfg: TargetConfig, shadow: AccountState, as_of: dt.date) -> Desired:
    """A person idsync manages an account for who is no longer in any source."""
    access, reason = retirement(
        "person is no longer in the source",
        shadow.disabled_on or as_of,
        cfg.account.lifecycle,
        as_of,
    )
    if access == "deleted":
        return Desired(person=pid, access=access, reason=reason)
    return Desired(person=pid, access=access, reason=reason, attributes=dict(shadow.data))


def _check_thresholds(plan: Plan, tp: TargetPlan, cfg: TargetConfig) -> None:
    counts = tp.counts()
    base = max(tp.managed + counts.get(ActionKind.CREATE.value, 0), 1)
    for kind, threshold in cfg.thresholds.items():
        n = counts.get(kind.value, 0)
        limit = threshold.limit(base)
        if limit is not None and n > limit:
            plan.held.append(
                Hold(
                    system=tp.target,
                    kind=kind.value,
                    count=n,
                    limit=limit,
                    reason=f"{n} {kind.value} actions exceed the threshold {threshold} (of {base} accounts)",
                )
            )


__all__ += ["MANAGER_KEY"]
