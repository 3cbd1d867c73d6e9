"""The state store (SQLAlchemy; SQLite by default, PostgreSQL in production)."""

from idsync.state.lease import Lease, LeaseLost
from idsync.state.location import StateError
from idsync.state.store import (
    LEASE_TTL,
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
    "LEASE_TTL",
    "AccountState",
    "BlockedAction",
    "InDoubt",
    "Lease",
    "LeaseLost",
    "LockHeld",
    "Missing",
    "StateError",
    "Store",
    "StoreFailed",
    "now",
]
