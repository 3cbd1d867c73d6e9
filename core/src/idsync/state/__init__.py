"""The state store (SQLAlchemy; SQLite by default, PostgreSQL in production)."""

from idsync.state.store import AccountState, LockHeld, Store, now

__all__ = ["AccountState", "LockHeld", "Store", "now"]
