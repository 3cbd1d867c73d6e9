"""Unique values while planning: which candidate (``jdoe``, ``jdoe2``…) a new account gets.

A value is free when no account idsync knows of holds it and the target says nobody else
does (asked through the plan's lookups, read-only), compared the way the target compares
values. Values chosen in one plan are reserved for the rest of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from idsync.config import TargetConfig
from idsync.correlation import Lookups
from idsync.evaluate import Candidates, Desired
from idsync.expressions import ExpressionError
from idsync.model import Blocked
from idsync.state import AccountState

__all__ = ["NoPlan", "UniqueValues", "choose_unique"]


class UniqueValues:
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


class NoPlan(Exception):
    """The person cannot be planned in this target; ``blocked`` says where and why."""

    def __init__(self, blocked: Blocked) -> None:
        super().__init__(blocked.problem)
        self.blocked = blocked


def choose_unique(
    target: str,
    cfg: TargetConfig,
    desired: Desired,
    shadow: AccountState | None,
    unique: UniqueValues,
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
                raise NoPlan(
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
            raise NoPlan(Blocked(person=pid, field=where, problem=str(exc))) from None
        except _Unreadable as exc:
            raise NoPlan(Blocked(person=pid, field=where, problem=str(exc))) from None
        if index is None:
            shown = ", ".join(map(str, list(options)[:3]))
            raise NoPlan(
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
