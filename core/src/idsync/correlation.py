"""Correlation while planning: which account, if any, belongs to a person idsync has none for.

A plan asks the target (read-only) before it promises anything: for each person without a
linked account, which accounts match the person's correlation value; for each create, whether
its unique values are free. :class:`TargetReader` answers from the target itself. When many
persons are asked about, it lists every account once (``idsync_accounts``) and answers every
question from that index; when few, it asks per person (``idsync_correlate``,
``idsync_attribute_available``) and remembers, so a lookup that already answered a
correlation also answers the unique check of the same value. A plan in which every person is
linked asks nothing at all.

Values are compared the way the target compares them: without regard to letter case where
the plugin says the target does (``PluginAbout.case_insensitive``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from idsync.breaker import Breaker, watching
from idsync.config import Correlate
from idsync.model import Account, ActionKind, Correlation, HookContext
from idsync.plugins import System

__all__ = [
    "DELETED_FLAGS",
    "Lookups",
    "NoLookups",
    "TargetReader",
    "TargetStopped",
    "deleted",
    "folder",
]

DELETED_FLAGS = ("isDeleted", "deleted")
"""Account data flags of a soft-deleted account (kept by the target, not in use)."""

SINGLE_LOOKUPS = 25
"""Up to this many persons to look up, the reader asks per person; above, it lists once."""


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``name.family``) in objects and mappings; None when a
    step is missing."""
    for part in path.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, Mapping) else getattr(obj, part, None)
    return obj


def deleted(account: Account) -> bool:
    """A soft-deleted account: the target keeps it, flagged, but nobody uses it."""
    return any(account.data.get(flag) is True for flag in DELETED_FLAGS)


def folder(case_insensitive: bool) -> Any:
    """The function that puts a value in the form the target compares (case-folded text
    where the target ignores case; trimmed text; anything else as it is)."""

    def fold(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return text.casefold() if case_insensitive else text
        return value

    return fold


class Lookups(Protocol):
    """What a plan asks a target while planning (see :class:`TargetReader`)."""

    def prepare(self, values: Collection[Any]) -> None:
        """Say which correlation values the plan will ask about (to list or not to list)."""

    def matches(self, value: Any) -> list[Account]:
        """The live accounts whose correlation field equals ``value``."""

    def holder(self, attribute: str, value: Any) -> str | None:
        """The reference of an account that holds ``value`` in the unique ``attribute``, or
        None when it is free (``""`` when taken by an account the target does not name)."""


class TargetStopped(Exception):
    """The target is stopped for this run (:mod:`idsync.breaker`): nothing more is asked."""


class NoLookups:
    """A target nobody can ask (no correlation, or a test of the rules alone): nothing
    matches and every value is free, as far as the plan can tell."""

    def prepare(self, values: Collection[Any]) -> None:
        return None

    def matches(self, value: Any) -> list[Account]:
        return []

    def holder(self, attribute: str, value: Any) -> str | None:
        return None


class TargetReader:
    """Answers a plan's questions from the target, read-only, listing once when asked a lot.

    ``unique`` names the unique attributes the plan may ask about; ``fold`` compares values
    as the target does. ``requests`` counts the hook calls made, for reports and benchmarks.
    A call that fails raises; the plan then blocks the persons it could not decide. Calls go
    through ``breaker`` (the target's for this run, shared with its enforcement): once the
    target refused the credentials a few times or could not be reached, the reader asks
    nothing more and each question raises :class:`TargetStopped` at once. Asking
    per person is for a few persons and a field the target looks up in one request
    (``indexed``, from ``PluginAbout.indexed``); otherwise the reader lists.
    """

    def __init__(
        self,
        system: System,
        correlate: Correlate | None,
        ctx: HookContext,
        *,
        unique: Iterable[str] = (),
        fold: Any = None,
        single: int = SINGLE_LOOKUPS,
        indexed: Collection[str] | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.system = system
        self.breaker = breaker or Breaker(system.name)
        self.correlate = correlate
        self.ctx = ctx
        self.unique = list(unique)
        self.fold = fold or folder(False)
        self.single = single
        if correlate is not None and indexed is not None and correlate.account not in indexed:
            self.single = 0  # each lookup would scan the target: list once instead
        self.requests = 0
        self.listed = False
        self._by_value: dict[Any, list[Account]] = {}
        self._holders: dict[tuple[str, Any], str | None] = {}

    # --- deciding how to ask ---------------------------------------------------------

    def prepare(self, values: Collection[Any]) -> None:
        if self.listed or not values:
            return
        if len(values) > self.single and self.system.implements("idsync_accounts"):
            self._list()

    def _list(self) -> None:
        by_value: dict[Any, list[Account]] = defaultdict(list)
        holders: dict[tuple[str, Any], str | None] = {}
        field = self.correlate.account if self.correlate else None
        self.requests += 1
        # ``correlate`` tells the plugin the listing is for correlation: memberships may be
        # left out.
        ctx = self.ctx.model_copy(update={"action": ActionKind.CORRELATE})
        with self._calling():  # a listing's pages are requested as it is read
            for raw in self.system.hook.idsync_accounts(ctx=ctx) or ():
                account = raw if isinstance(raw, Account) else Account.model_validate(raw)
                if deleted(account):
                    continue
                if field is not None:
                    value = account.data.get(field)
                    if value not in (None, ""):
                        by_value[self.fold(value)].append(account)
                for attribute in self.unique:
                    value = account.data.get(attribute)
                    if value not in (None, ""):
                        holders[(attribute, self.fold(value))] = account.reference
        self._by_value = dict(by_value)
        self._holders = holders
        self.listed = True

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Calls of the target in this block, watched by the breaker; none once it tripped."""
        if self.breaker.tripped:
            raise TargetStopped(self.breaker.reason)
        started = time.monotonic()
        with watching() as seen:
            try:
                yield
            finally:
                self.breaker.record(seen, started)

    # --- answering -------------------------------------------------------------------

    def matches(self, value: Any) -> list[Account]:
        if self.correlate is None or value in (None, ""):
            return []
        key = self.fold(value)
        if self.listed:
            return list(self._by_value.get(key, ()))
        if key not in self._by_value:
            ctx = self.ctx.model_copy(
                update={
                    "correlation": Correlation(
                        person_field=self.correlate.person,
                        account_field=self.correlate.account,
                        value=value,
                    )
                }
            )
            self.requests += 1
            with self._calling():
                found = self.system.hook.idsync_correlate(ctx=ctx) or []
            accounts = [a if isinstance(a, Account) else Account.model_validate(a) for a in found]
            self._by_value[key] = [a for a in accounts if not deleted(a)]
        return list(self._by_value[key])

    def holder(self, attribute: str, value: Any) -> str | None:
        key = (attribute, self.fold(value))
        if self.listed:
            return self._holders.get(key)
        if key in self._holders:
            return self._holders[key]
        if self.correlate is not None and attribute == self.correlate.account:
            # The correlation lookup of the same value answers this too.
            found = self.matches(value)
            self._holders[key] = found[0].reference if found else None
            return self._holders[key]
        if not self.system.implements("idsync_attribute_available"):
            return None
        self.requests += 1
        with self._calling():
            free = self.system.hook.idsync_attribute_available(
                ctx=self.ctx, attribute=attribute, value=value
            )
        self._holders[key] = None if free is not False else ""
        return self._holders[key]


def owners(references: Mapping[str, str | None], fold: Any) -> dict[Any, str]:
    """``{folded reference: person}`` of the accounts idsync has linked in a target."""
    return {fold(ref): pid for pid, ref in references.items() if ref}


__all__ += ["SINGLE_LOOKUPS", "owners", "value_at"]
