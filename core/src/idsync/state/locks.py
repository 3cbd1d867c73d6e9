"""The state store's locks: a pipeline's lock, taken as a lease with a generation (the fencing
token :class:`~idsync.state.Lease` checks), renewed while the run lives, and taken over from
a runner that died."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading

import sqlalchemy as sa

from idsync.state import schema as t
from idsync.state.part import StorePart
from idsync.state.records import now

LEASE_TTL = dt.timedelta(seconds=60)
"""How long a pipeline's lock lasts without renewal; a live runner renews it every third."""


def _aware(stamp: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


class LockHeld(Exception):
    """Another runner holds the pipeline's lock."""


def _is_dead(owner: str) -> bool:
    """Whether a lock owner ``host:pid:thread`` is a process of this host that has ended."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Locks(StorePart):
    """Pipeline locks and leases (a part of :class:`~idsync.state.Store`)."""

    # --- locks and leases -------------------------------------------------------------

    def acquire_lock(self, name: str, ttl: dt.timedelta = LEASE_TTL) -> str:
        """Take the named lock or raise :class:`LockHeld`; returns the owner token.

        A lock whose holder stopped without renewing it expires after ``ttl``.
        """
        return self.acquire_lease(name, ttl)[0]

    def acquire_lease(self, name: str, ttl: dt.timedelta = LEASE_TTL) -> tuple[str, int]:
        """Take the named lock for ``ttl`` or raise :class:`LockHeld`; returns the owner
        token and the lock's new *generation* (the fencing token: every taking raises it, so a
        holder whose lease ran out and was taken over finds its generation gone)."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        stamp = now()
        c = t.locks.c
        with self._write() as conn:
            row = conn.execute(
                sa.select(c.owner, c.expires, c.generation).where(c.name == name)
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            t.locks.insert().values(
                                name=name,
                                owner=owner,
                                acquired=stamp,
                                expires=stamp + ttl,
                                generation=1,
                            )
                        )
                except sa.exc.IntegrityError:
                    raise LockHeld(name) from None
                return owner, 1
            holder, expires, generation = row
            if _aware(expires) >= stamp and holder and not _is_dead(holder):
                raise LockHeld(name)
            taken = conn.execute(
                t.locks.update()
                .where((c.name == name) & (c.generation == generation))
                .values(owner=owner, acquired=stamp, expires=stamp + ttl, generation=generation + 1)
            )
            if taken.rowcount != 1:  # another runner took it between our read and write
                raise LockHeld(name)
            return owner, int(generation) + 1

    def renew_lease(self, name: str, owner: str, generation: int, ttl: dt.timedelta) -> bool:
        """Extend a lease its holder still holds (same owner and generation); False when the
        lease was taken over or released."""
        c = t.locks.c
        with self._write() as conn:
            renewed = conn.execute(
                t.locks.update()
                .where((c.name == name) & (c.owner == owner) & (c.generation == generation))
                .values(expires=now() + ttl)
            )
            return renewed.rowcount == 1

    def lease_generation(self, name: str, owner: str) -> int | None:
        """The generation of the named lease while ``owner`` holds it, else None."""
        c = t.locks.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(c.generation).where((c.name == name) & (c.owner == owner))
            ).first()
            return int(row[0]) if row else None

    def lock_owner(self, name: str) -> str | None:
        """Who holds the named lock (an unexpired lease), if anyone."""
        c = t.locks.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(c.owner, c.expires).where(c.name == name)).first()
        if row is None or not row[0] or _aware(row[1]) < now():
            return None
        return str(row[0])

    def release_lock(self, name: str, owner: str) -> None:
        """Release the named lock if ``owner`` holds it (its generation is kept, so the next
        taker's is higher)."""
        c = t.locks.c
        with self._write() as conn:
            conn.execute(
                t.locks.update()
                .where((c.name == name) & (c.owner == owner))
                .values(owner="", expires=now())
            )
