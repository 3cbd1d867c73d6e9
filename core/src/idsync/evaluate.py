"""Evaluate: what each person should have in a target at the ``as_of`` date.

For one target and person: which contracts are *in conditions* (the account rule, per
contract), where the person is in the account-access lifecycle, the desired account attributes
(the field mapping), the unique attributes' candidates, and the desired permissions (static
rules and dynamic ones, one per contract in conditions).

The lifecycle, per contract in conditions with start S and end E (open end: never):

- the account exists from ``S - create_days_before_start``;
- it is enabled from ``S - enable_days_before_start`` to ``E + disable_days_after_end``;
- it is disabled after that, and deleted ``delete_days_after_disable`` days later, unless a
  later contract (a rehire) brings the person back first;
- attributes and permissions follow the contracts that give access now (before the first
  start: the upcoming ones), so a mover keeps the old department's group until the new
  contract's enable date;
- a person with no contract in conditions at all (the rule stopped matching, or the person left
  the source) is disabled at once and deleted after ``delete_days_after_disable`` days.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger

from idsync.config import Lifecycle, TargetConfig
from idsync.expressions import ExpressionError, Expressions
from idsync.model import Blocked, Contract, Permission, Person
from idsync.state import AccountState

__all__ = ["MANAGER_KEY", "Access", "Candidates", "Desired", "Evaluator", "retirement"]

Access = Literal["none", "pre", "enabled", "disabled", "deleted"]
"""``none``: no account yet; ``pre``: exists, not yet enabled; then enabled, disabled, deleted."""

MANAGER_KEY = "@manager"
"""Engine-computed account attribute: the manager's person id (the target gets the reference)."""

_DAY = dt.timedelta(days=1)


@dataclass
class Desired:
    """The desired state of one person's account in one target."""

    person: str
    access: Access
    reason: str
    attributes: dict[str, Any] = field(default_factory=dict)
    unique: dict[str, Candidates] = field(default_factory=dict)
    """Unique attributes' candidates in order of preference (first is the base)."""
    permissions: dict[str, Permission] = field(default_factory=dict)
    manager: str | None = None
    error: Blocked | None = None


class _Rounds:
    """The candidates rendered so far, and how to render the rest (None once done)."""

    __slots__ = ("items", "more")

    def __init__(self, items: list[Any], more: Callable[[list[Any]], None] | None) -> None:
        self.items = items
        self.more = more

    def complete(self) -> None:
        with _COMPLETING:
            if self.more is not None:
                self.more(self.items)  # appends: readers may see the new items as they come
                self.more = None


_COMPLETING = threading.Lock()
_NOTHING = object()


class Candidates(Sequence[Any]):
    """A unique attribute's candidates in order of preference, later ones rendered on demand.

    Reading the first value (the base), or iterating only as far as a free one, renders
    nothing more; reading further renders the remaining rounds once, in order, skipping
    empty values and repeats, as rendering them all up front would. A slice from ``i`` is a
    view that stays lazy: the remaining candidates a create carries to the enforcer.
    """

    __slots__ = ("_rounds", "_start")

    def __init__(self, first: list[Any], more: Callable[[list[Any]], None] | None = None) -> None:
        self._rounds = _Rounds(first, more)
        self._start = 0

    def complete(self) -> list[Any]:
        """Every candidate from this one's start, the later rounds rendered if still due."""
        if self._rounds.more is not None:
            self._rounds.complete()
        return self._rounds.items[self._start :]

    def __iter__(self) -> Iterator[Any]:
        rounds, index = self._rounds, self._start
        while True:
            if index < len(rounds.items):
                yield rounds.items[index]
                index += 1
            elif rounds.more is not None:
                rounds.complete()
            else:
                return

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            if index.step not in (None, 1) or index.stop is not None or (index.start or 0) < 0:
                return self.complete()[index]
            view = Candidates.__new__(Candidates)
            view._rounds = self._rounds
            view._start = self._start + (index.start or 0)
            return view
        items = self._rounds.items
        if index >= 0 and self._start + index < len(items):
            return items[self._start + index]
        return self.complete()[index]

    def __len__(self) -> int:
        return len(self.complete())

    def __bool__(self) -> bool:
        return next(iter(self), _NOTHING) is not _NOTHING

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Candidates | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        known = self._rounds.items[self._start :]
        return f"Candidates({known!r}{', ...' if self._rounds.more is not None else ''})"


def _window(c: Contract, before: int, after: int) -> tuple[dt.date, dt.date]:
    start = c.start - dt.timedelta(days=before)
    end = (
        dt.date.max
        if c.end is None
        else min(dt.date.max - _DAY * (after + 1), c.end) + dt.timedelta(days=after)
    )
    return start, end


def _lifecycle(
    contracts: list[Contract], life: Lifecycle, as_of: dt.date, shadow: AccountState | None
) -> tuple[Access, str, list[Contract]]:
    current = [
        c
        for c in contracts
        if _within(as_of, _window(c, life.create_days_before_start, life.disable_days_after_end))
    ]
    if current:
        enabled = [
            c
            for c in current
            if _within(
                as_of, _window(c, life.enable_days_before_start, life.disable_days_after_end)
            )
        ]
        if enabled:
            return "enabled", f"contract {enabled[0].external_id} in conditions", enabled
        first = min(c.start for c in current)
        enable_on = first - dt.timedelta(days=life.enable_days_before_start)
        return (
            "pre",
            f"contract starts {first.isoformat()}, enabled from {enable_on.isoformat()}",
            current,
        )
    future = [c for c in contracts if c.start > as_of]
    if future:
        return ("disabled" if shadow else "none"), "next contract starts later", []
    if contracts:
        last_end = max(c.end for c in contracts if c.end is not None)
        disabled_from = last_end + dt.timedelta(days=life.disable_days_after_end)
        reason = f"last contract ended {last_end.isoformat()}"
    else:
        disabled_from = shadow.disabled_on if shadow and shadow.disabled_on else as_of
        reason = "no contract in conditions"
    if shadow is None:
        return "none", reason, []
    return (*retirement(reason, disabled_from, life, as_of), [])


def retirement(
    reason: str, disabled_from: dt.date, life: Lifecycle, as_of: dt.date
) -> tuple[Access, str]:
    """Disabled, or deleted once ``delete_days_after_disable`` have passed since
    ``disabled_from``; the reason says when."""
    if life.delete_days_after_disable is None:
        return "disabled", reason
    delete_on = disabled_from + dt.timedelta(days=life.delete_days_after_disable)
    if as_of >= delete_on:
        return "deleted", f"{reason}; deleted from {delete_on.isoformat()}"
    return "disabled", f"{reason}; delete on {delete_on.isoformat()}"


def _within(day: dt.date, window: tuple[dt.date, dt.date]) -> bool:
    return window[0] <= day <= window[1]


class Evaluator:
    """Evaluates one target's rules for persons at a date."""

    def __init__(
        self, name: str, config: TargetConfig, expressions: Expressions, as_of: dt.date
    ) -> None:
        self.name = name
        self.config = config
        self.expressions = expressions
        self.as_of = as_of
        self._parsed: dict[str, Permission] = {}

    def _permission(self, text: str) -> Permission:
        """``text`` parsed, once per distinct text: every person granted the same permission
        shares one object (nothing changes a planned permission; the enforcer copies it to
        add the target's reference)."""
        permission = self._parsed.get(text)
        if permission is None:
            permission = self._parsed[text] = Permission.parse(text)
        return permission

    def _fail(self, person: Person, where: str, exc: ExpressionError) -> Desired:
        return Desired(
            person=person.external_id,
            access="none",
            reason="evaluation failed",
            error=Blocked(
                person=person.external_id, field=f"targets.{self.name}.{where}", problem=str(exc)
            ),
        )

    def in_conditions(self, person: Person) -> list[Contract]:
        """The person's contracts that satisfy the account rule (all, without a rule)."""
        if person.inactive:
            return []
        rule = self.config.account.when
        if rule is None:
            return list(person.contracts)
        return [
            c
            for c in person.contracts
            if self.expressions.test(rule, {"person": person, "contract": c, "as_of": self.as_of})
        ]

    def evaluate(
        self,
        person: Person,
        shadow: AccountState | None,
        accounts: Mapping[str, Mapping[str, Any]],
    ) -> Desired:
        """The desired state of ``person``'s account; ``accounts`` are other targets' data."""
        cfg = self.config.account
        try:
            conditions = self.in_conditions(person)
        except ExpressionError as exc:
            return self._fail(person, "account.when", exc)
        access, reason, current = _lifecycle(conditions, cfg.lifecycle, self.as_of, shadow)
        desired = Desired(person=person.external_id, access=access, reason=reason)
        if access in ("none", "deleted"):
            return desired
        contract = person.primary_contract(self.as_of, current or conditions or None)
        context: dict[str, Any] = {
            "person": person,
            "contract": contract,
            "contracts": current,
            "department": contract.department if contract else None,
            "as_of": self.as_of,
            "accounts": accounts,
        }
        where = "account.mapping"
        try:
            for key, template in cfg.mapping.items():
                where = f"account.mapping.{key}"
                desired.attributes[key] = self.expressions.render(template, context)
            for key, candidates in cfg.unique.items():
                where = f"account.unique.{key}"
                desired.unique[key] = self._candidates(candidates, context)
            if access in ("pre", "enabled"):
                where = "permissions"
                desired.permissions = self._permissions(person, current, context)
        except ExpressionError as exc:
            return self._fail(person, where, exc)
        if cfg.manager:
            manager = (contract.manager if contract else None) or person.manager
            desired.manager = manager.external_id if manager else None
            desired.attributes[MANAGER_KEY] = desired.manager
        return desired

    def _candidates(self, templates: list[str], context: dict[str, Any]) -> Candidates:
        """The candidates in order: every template with ``suffix`` empty, then with 2 to 9.

        The first round is rendered now (a template that fails, fails here); the others
        when something reads past it, which for most persons is never: an account keeps its
        value, a new one gets its first choice. A template that does not use ``suffix``
        renders the same in every round, so it is rendered in the first only.
        """
        found: list[Any] = []

        def add(template: str, suffix: str, into: list[Any]) -> None:
            value = self.expressions.render(template, {**frozen, "suffix": suffix})
            if value not in into and value not in ("", None):
                into.append(value)

        frozen = context
        for template in templates:
            add(template, "", found)
        suffixed = [t for t in templates if self.expressions.reads(t, "suffix")]
        if not suffixed:
            return Candidates(found)
        # Later rounds may render after the plan has moved on: they see the data as it is
        # now (the other targets' accounts as they stand for this person at this point).
        frozen = {**context, "accounts": dict(context["accounts"])}

        def more(into: list[Any]) -> None:
            for suffix in (str(n) for n in range(2, 10)):
                for template in suffixed:
                    add(template, suffix, into)

        candidates = Candidates(found, more)
        if not found:
            candidates.complete()  # no first choice without the later rounds: render them now
        return candidates

    def _permissions(
        self, person: Person, current: list[Contract], context: dict[str, Any]
    ) -> dict[str, Permission]:
        out: dict[str, Permission] = {}
        # One context per contract, shared by every rule (rules only read it).
        contexts = [{**context, "contract": c, "department": c.department} for c in current]
        for rule in self.config.permissions:
            for ctx in contexts:
                if not self.expressions.test(rule.when, ctx):
                    continue
                if rule.grant is not None:
                    permission = self._permission(rule.grant)
                    out[permission.key] = permission
                    break
                assert rule.dynamic is not None
                text = self.expressions.render(rule.dynamic, ctx)
                name = str(text).partition(":")[2]
                if not name.strip():
                    continue  # a contract without the data the template needs gives no permission
                try:
                    permission = self._permission(str(text))
                except ValueError as exc:
                    raise ExpressionError(f"permission {str(text)[:80]!r}: {exc}") from None
                out[permission.key] = permission
        return out

    def resources(self, departments: Mapping[str, Any]) -> dict[str, Permission]:
        """The resources this target needs: each resource template per department."""
        out: dict[str, Permission] = {}
        for template in self.config.resources:
            for dep in departments.values():
                try:
                    text = self.expressions.render(
                        template, {"department": dep, "as_of": self.as_of}
                    )
                    if not str(text).partition(":")[2].strip():
                        continue
                    permission = Permission.parse(
                        text, data={"department": dep.model_dump(mode="json")}
                    )
                except (ExpressionError, ValueError) as exc:
                    logger.bind(system=self.name).warning(
                        "no resource for department {}: {}", dep.external_id, str(exc)[:300]
                    )
                    continue
                out.setdefault(permission.key, permission)
        return out
