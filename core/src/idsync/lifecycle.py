"""The lifecycle model: where a person's account stands at a date, and what changes for them.

Two small pure functions carry every date rule, so each can be tested as a table:

:func:`standing` — the account's *access* at ``as_of`` from the contracts that satisfy the
account rule. Per contract with start S and end E (open end: never):

- the account exists from ``S - create_days_before_start`` (access ``pre``: made, disabled);
- it is enabled from ``S - enable_days_before_start`` to ``E + disable_days_after_end``;
- after that it is disabled, unless a later contract is coming (it then waits disabled);
- it is deleted ``delete_days_after_disable`` days after idsync *saw it disabled*: the day a
  run disabled it (or linked it already disabled), never a date computed from the contracts.
  A contract end entered late, or a year typo, can disable an account at once but never
  delete it before the grace period has run.

:func:`transition` — what happens to the person in one target, in the words a plan groups and
thresholds hold by: ``joiner`` (gets an account or its first enable), ``mover`` (keeps access,
attributes or permissions change), ``leaver`` (loses access while still in the source),
``returner`` (disabled, now enabled again), ``vanished`` (no longer in any source, loses
access) and ``retired`` (disabled long enough, deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, Protocol

from idsync.config import Lifecycle
from idsync.model import Contract

__all__ = ["Access", "Standing", "Transition", "retire", "standing", "transition"]

Access = Literal["none", "pre", "enabled", "disabled", "deleted"]
"""``none``: no account; ``pre``: exists, not yet enabled; then enabled, disabled, deleted."""

Transition = Literal["joiner", "mover", "leaver", "returner", "vanished", "retired"]

_DAY = dt.timedelta(days=1)


class Shadow(Protocol):
    """What the lifecycle rules read of an account's shadow."""

    @property
    def enabled(self) -> bool: ...

    @property
    def disabled_on(self) -> dt.date | None: ...


class Standing:
    """Where an account stands: its access, why, and the contracts that give it."""

    __slots__ = ("access", "contracts", "reason")

    def __init__(self, access: Access, reason: str, contracts: Sequence[Contract] = ()) -> None:
        self.access: Access = access
        self.reason = reason
        self.contracts: list[Contract] = list(contracts)
        """The contracts that give access now (before the first start: the upcoming ones)."""

    def __repr__(self) -> str:
        return f"Standing({self.access!r}, {self.reason!r})"


class _Window:
    """From ``before`` days before a contract starts to ``after`` days after it ends (an
    open end: for ever), the day arithmetic done once for every contract it is asked of."""

    __slots__ = ("after", "before", "latest")

    def __init__(self, before: int, after: int) -> None:
        self.before = dt.timedelta(days=before)
        self.after = dt.timedelta(days=after)
        self.latest = dt.date.max - _DAY * (after + 1)
        """The last end that can be moved ``after`` days later."""

    def holds(self, day: dt.date, c: Contract) -> bool:
        """Whether ``day`` falls in ``c``'s window."""
        if day < c.start - self.before:
            return False
        return c.end is None or day <= min(self.latest, c.end) + self.after


def standing(
    contracts: Sequence[Contract], life: Lifecycle, as_of: dt.date, shadow: Shadow | None
) -> Standing:
    """The account's access at ``as_of`` from the ``contracts`` in conditions.

    ``shadow`` is the account as idsync last left it (None: idsync has none). Without a
    shadow the answer is ``none`` whenever the person should not have access; with one, the
    account retires (:func:`retire`).
    """
    created = _Window(life.create_days_before_start, life.disable_days_after_end)
    current = [c for c in contracts if created.holds(as_of, c)]
    if current:
        enabling = _Window(life.enable_days_before_start, life.disable_days_after_end)
        enabled = [c for c in current if enabling.holds(as_of, c)]
        if enabled:
            return Standing("enabled", f"contract {enabled[0].external_id} in conditions", enabled)
        first = min(c.start for c in current)
        enable_on = first - dt.timedelta(days=life.enable_days_before_start)
        return Standing(
            "pre",
            f"contract starts {first.isoformat()}, enabled from {enable_on.isoformat()}",
            current,
        )
    if shadow is None:
        return Standing("none", "no contract gives access")
    if any(c.start > as_of for c in contracts):
        return Standing("disabled", "next contract starts later")
    if contracts:
        last_end = max(c.end for c in contracts if c.end is not None)
        reason = f"last contract ended {last_end.isoformat()}"
    else:
        reason = "no contract in conditions"
    return retire(reason, shadow, life, as_of)


def retire(reason: str, shadow: Shadow, life: Lifecycle, as_of: dt.date) -> Standing:
    """A retiring account: disabled, and deleted once it has been disabled (as idsync saw
    it) for ``delete_days_after_disable`` days. Leavers and vanished persons both retire
    here, so both count the grace period the same way."""
    days = life.delete_days_after_disable
    if shadow.disabled_on is None:
        later = "" if days is None else f"; delete {days} days after it is disabled"
        return Standing("disabled", f"{reason}{later}")
    if days is None:
        return Standing("disabled", f"{reason}; disabled since {shadow.disabled_on.isoformat()}")
    delete_on = shadow.disabled_on + dt.timedelta(days=days)
    if as_of >= delete_on:
        return Standing(
            "deleted",
            f"{reason}; disabled since {shadow.disabled_on.isoformat()}, "
            f"deleted from {delete_on.isoformat()}",
        )
    return Standing("disabled", f"{reason}; delete on {delete_on.isoformat()}")


def transition(
    access: Access, shadow: Shadow | None, *, present: bool, changes: bool
) -> Transition | None:
    """What the planned change is for the person, or None when nothing changes.

    ``access`` is the desired access, ``shadow`` the account as idsync left it, ``present``
    whether any source still has the person, ``changes`` whether anything is planned.
    """
    if not changes:
        return None
    if shadow is None:
        return "joiner" if access in ("pre", "enabled") else None
    if access == "deleted":
        return "retired"
    if access == "disabled" or (access == "pre" and shadow.enabled):
        return "leaver" if present else "vanished"
    if access == "enabled" and not shadow.enabled:
        return "returner" if shadow.disabled_on is not None else "joiner"
    return "mover"
