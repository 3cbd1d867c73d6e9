"""The state store's users of the web console: names, roles and password hashes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from idsync.state import schema as t
from idsync.state.part import StorePart
from idsync.state.records import now


class Users(StorePart):
    """The web console's users (a part of :class:`~idsync.state.Store`)."""

    # --- the console's users -----------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """The console's users (name, password hash, role, created, updated), by name."""
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t.users).order_by("name"))]

    def user(self, name: str) -> dict[str, Any] | None:
        """One console user, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
            return dict(row._mapping) if row else None

    def save_user(self, name: str, password: str, role: str) -> bool:
        """Add a console user or replace one's password hash and role; True when added."""
        stamp = now()
        with self._write() as conn:
            done = conn.execute(
                t.users.update()
                .where(t.users.c.name == name)
                .values(password=password, role=role, updated=stamp)
            )
            if done.rowcount:
                return False
            conn.execute(
                t.users.insert().values(
                    name=name, password=password, role=role, created=stamp, updated=stamp
                )
            )
            return True

    def remove_user(self, name: str) -> bool:
        """Remove a console user; False when there was none of that name."""
        with self._write() as conn:
            return bool(conn.execute(t.users.delete().where(t.users.c.name == name)).rowcount)
