"""The plan's objects: an :class:`Action`, a threshold's :class:`Hold`, one target's
:class:`TargetPlan` and the whole :class:`Plan`.

:mod:`idsync.plan` makes them, :mod:`idsync.enforce` carries them out, :mod:`idsync.saved`
writes and compares them; they hold no rules of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from idsync.lifecycle import Transition
from idsync.model import Account, ActionKind, Blocked, Change, Permission

__all__ = ["Action", "Hold", "Plan", "TargetPlan"]

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
