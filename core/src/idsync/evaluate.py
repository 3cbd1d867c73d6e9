"""Evaluate: what each person should have in a target at the ``as_of`` date.

For one target and person: which contracts are *in conditions* (the account rule, per
contract), where the account stands in its lifecycle (:mod:`idsync.lifecycle`), the desired
account attributes (the field mapping), the unique attributes' candidates, and the desired
permissions (static rules and dynamic ones, one per contract in conditions).

Attributes and permissions follow the contracts that give access now (before the first start:
the upcoming ones), so a mover keeps the old department's group until the new contract's
enable date. A permission name, resource or unique candidate is rendered whole or not at all:
a dynamic permission whose template prints a missing value blocks the person in that target
(nothing is granted from ``group:department_``, and nothing they hold is revoked for it).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from idsync.config import PermissionRule, TargetConfig
from idsync.expressions import ExpressionError, Expressions, MissingValue
from idsync.lifecycle import Access, standing
from idsync.memo import Memo
from idsync.model import Blocked, Contract, Permission, Person
from idsync.state import AccountState

__all__ = ["MANAGER_KEY", "Access", "Candidates", "Desired", "Evaluator"]

MANAGER_KEY = "@manager"
"""Engine-computed account attribute: the manager's person id (the target gets the reference)."""


@dataclass(slots=True)
class Desired:
    """The desired state of one person's account in one target (slotted: a plan may hold
    one for every person while it looks up the joiners)."""

    person: str
    access: Access
    reason: str
    attributes: dict[str, Any] = field(default_factory=dict)
    unique: dict[str, Candidates] = field(default_factory=dict)
    """Unique attributes' candidates in order of preference (first is the base)."""
    permissions: dict[str, Permission] = field(default_factory=dict)
    manager: str | None = None
    error: Blocked | None = None
    leaver: bool = False
    """No account is due (``none``) because the person's contracts ended or none is in
    conditions (not because one starts later): an account found for them is retired."""


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


def _add_candidate(
    expressions: Expressions, template: str, context: dict[str, Any], into: list[Any]
) -> None:
    """Render one candidate into ``into`` (``context`` gives its round's ``suffix``), unless
    a part is missing, it is empty, or a repeat."""
    try:
        value = expressions.render(template, context, strict=True)
    except MissingValue:
        return  # a candidate with a part missing is no candidate: try the next
    if value not in into and value not in ("", None):
        into.append(value)


class _LaterRounds:
    """Renders a unique attribute's rounds 2 to 9 when they are first read. One small
    object per person instead of closures: a plan may hold every person's candidates."""

    __slots__ = ("context", "expressions", "templates")

    def __init__(
        self, expressions: Expressions, templates: list[str], context: dict[str, Any]
    ) -> None:
        self.expressions = expressions
        self.templates = templates
        self.context = context

    def __call__(self, into: list[Any]) -> None:
        for n in range(2, 10):
            context = {**self.context, "suffix": str(n)}
            for template in self.templates:
                _add_candidate(self.expressions, template, context, into)


class _RuleFailed(Exception):
    """A permission rule that could not be evaluated, and where it is in the file."""

    def __init__(self, where: str, error: ExpressionError) -> None:
        super().__init__(str(error))
        self.where = where
        self.error = error


class Evaluator:
    """Evaluates one target's rules for persons at a date."""

    def __init__(
        self, name: str, config: TargetConfig, expressions: Expressions, as_of: dt.date
    ) -> None:
        self.name = name
        self.config = config
        self.expressions = expressions
        self.as_of = as_of
        self._parsed: dict[str, tuple[str, Permission]] = {}
        # Rules and templates remembered by what they read: an evaluator serves one plan,
        # which changes no person, and most rules read only references the import shares.
        self._memo = Memo(expressions)

    def _permission(self, text: str) -> tuple[str, Permission]:
        """``text`` parsed, and its key, once per distinct text: every person granted the
        same permission shares one object and one key string (nothing changes a planned
        permission; the enforcer copies it to add the target's reference)."""
        parsed = self._parsed.get(text)
        if parsed is None:
            permission = Permission.parse(text)
            parsed = self._parsed[text] = (permission.key, permission)
        return parsed

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
            if self._memo.test(rule, {"person": person, "contract": c, "as_of": self.as_of})
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
        stand = standing(conditions, cfg.lifecycle, self.as_of, shadow)
        access, current = stand.access, stand.contracts
        desired = Desired(person=person.external_id, access=access, reason=stand.reason)
        if access == "none":
            desired.leaver = not any(c.start > self.as_of for c in conditions)
            if desired.leaver:
                desired.reason = (
                    "no contract in conditions"
                    if not conditions
                    else f"last contract ended {max(c.end for c in conditions if c.end).isoformat()}"
                )
            return desired
        if access == "deleted":
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
                desired.attributes[key] = self._memo.render(template, context)
            for key, rule in cfg.unique.items():
                where = f"account.unique.{key}"
                desired.unique[key] = self._candidates(rule.candidates, context)
            if access in ("pre", "enabled"):
                where = "permissions"
                desired.permissions = self._permissions(person, current, context)
        except _RuleFailed as failed:
            return self._fail(person, failed.where, failed.error)
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
        first = {**context, "suffix": ""}
        for template in templates:
            _add_candidate(self.expressions, template, first, found)
        suffixed = [t for t in templates if self.expressions.reads(t, "suffix")]
        if not suffixed:
            return Candidates(found)
        # Later rounds may render after the plan has moved on: they see the data as it is
        # now (the other targets' accounts as they stand for this person at this point).
        # Only a template that reads them needs the copy: most never do.
        if any(self.expressions.reads(t, "accounts") for t in suffixed):
            context = {**context, "accounts": dict(context["accounts"])}
        candidates = Candidates(found, _LaterRounds(self.expressions, suffixed, context))
        if not found:
            candidates.complete()  # no first choice without the later rounds: render them now
        return candidates

    def _permissions(
        self, person: Person, current: list[Contract], context: dict[str, Any]
    ) -> dict[str, Permission]:
        out: dict[str, Permission] = {}
        # One context per contract, shared by every rule (rules only read it).
        contexts = [{**context, "contract": c, "department": c.department} for c in current]
        for index, rule in enumerate(self.config.permissions):
            try:
                self._rule(rule, contexts, out)
            except ExpressionError as exc:
                part = "dynamic" if rule.dynamic is not None else "when"
                raise _RuleFailed(f"permissions.{index}.{part}", exc) from None
        return out

    def _rule(
        self, rule: PermissionRule, contexts: list[dict[str, Any]], out: dict[str, Permission]
    ) -> None:
        """Add what one permission rule grants for the contracts' contexts to ``out``."""
        for ctx in contexts:
            if not self._memo.test(rule.when, ctx):
                continue
            if rule.grant is not None:
                key, permission = self._permission(rule.grant)
                out[key] = permission
                return
            if rule.dynamic is None:
                continue
            try:
                text = str(self._memo.render(rule.dynamic, ctx, strict=True))
            except MissingValue as exc:
                raise ExpressionError(
                    f"contract {ctx['contract'].external_id}: {exc}; nothing is granted from a "
                    "partial name (leave such contracts out with a when: rule)"
                ) from None
            try:
                key, permission = self._permission(text)
            except ValueError as exc:
                raise ExpressionError(f"permission {text[:80]!r}: {exc}") from None
            out[key] = permission

    def resources(self, departments: Mapping[str, Any]) -> dict[str, Permission]:
        """The resources this target needs: each resource template per department."""
        out: dict[str, Permission] = {}
        for template in self.config.resources:
            for dep in departments.values():
                try:
                    text = self.expressions.render(
                        template, {"department": dep, "as_of": self.as_of}, strict=True
                    )
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
