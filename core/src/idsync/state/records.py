"""What the state store hands out: shadows of accounts, a missing person's count, blocked
and in-doubt actions, and the store's clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AccountState", "BlockedAction", "InDoubt", "Missing", "now"]


def now() -> dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class InDoubt:
    """An action a run started on a target and never recorded finished (the run was killed,
    or its store failed): the target may or may not have done it."""

    run_id: int
    target: str
    person: str | None
    kind: str
    key: str | None
    reference: str | None


@dataclass(slots=True)
class AccountState:
    """The shadow of one account: what idsync last applied to it (slotted: a nightly plan
    reads one for every account)."""

    person: str
    reference: str | None
    data: dict[str, Any]
    enabled: bool
    disabled_on: dt.date | None = None
    unique_base: dict[str, Any] | None = None
    permissions: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Missing:
    """A person a source stopped listing: since when, on how many days' imports (several
    imports on one day count once), and the last of those days."""

    since: dt.date
    imports: int
    last: dt.date


@dataclass(frozen=True)
class BlockedAction:
    """An action a plugin reported blocked: what it would write, why, and since when."""

    fingerprint: str
    message: str
    since: dt.date
