"""The state store (SQLAlchemy; SQLite by default, PostgreSQL in production)."""

from idsync.state.location import StateError
from idsync.state.store import (
    AccountState,
    BlockedAction,
    InDoubt,
    LockHeld,
    Missing,
    Store,
    StoreFailed,
    now,
)

__all__ = [
    "AccountState",
    "BlockedAction",
    "InDoubt",
    "LockHeld",
    "Missing",
    "StateError",
    "Store",
    "StoreFailed",
    "now",
]
