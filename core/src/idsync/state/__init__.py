"""The state store (SQLAlchemy; SQLite by default, PostgreSQL in production)."""

from idsync.state.store import AccountState, BlockedAction, LockHeld, Missing, Store, now

__all__ = ["AccountState", "BlockedAction", "LockHeld", "Missing", "Store", "now"]
