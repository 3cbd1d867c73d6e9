"""A pipeline's lease: its lock held for a short time and renewed while the run lives, with a
fencing token checked before every target write.

The lock of :class:`~idsync.state.Store` expires ``ttl`` (60 s) after it was last renewed; a
thread renews it every third of that. A runner that dies stops renewing, so another host can take
the pipeline over within a minute. Each taking raises the lock's *generation*. Before every
target write the runner checks that its lease is still its own: its renewals kept it alive on its
own monotonic clock (which runs on while the process is paused), and the store still holds its
generation (read at most once a second). A runner paused past its lease (``SIGSTOP``, a frozen VM, a long GC pause) therefore
stops before its next write when it wakes, even when nobody has taken the pipeline yet.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from types import TracebackType

from loguru import logger

from idsync.state.store import LEASE_TTL, Store, StoreFailed

__all__ = ["Lease", "LeaseLost"]

_READ_EVERY = 1.0
"""Seconds between two reads of the lease's generation by :meth:`Lease.check`."""


class LeaseLost(StoreFailed):
    """The runner's lease on its pipeline ran out or was taken over: the run stops before its
    next target write (the actions in flight finish; the next run plans again)."""


class Lease:
    """The pipeline lock ``name`` held by this runner; :meth:`check` before each write."""

    def __init__(self, store: Store, name: str, ttl: dt.timedelta = LEASE_TTL) -> None:
        """Take the lock (raises :class:`~idsync.state.LockHeld`) and start renewing it."""
        self.store = store
        self.name = name
        self.ttl = ttl
        taken = time.monotonic()
        self.owner, self.generation = store.acquire_lease(name, ttl)
        self._valid_until = taken + ttl.total_seconds()
        self._lost: str | None = None
        self._read = -_READ_EVERY  # the first check reads the store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease {name}", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> str | None:
        """Why the lease is no longer this runner's, or None while it is."""
        if self._lost is None and time.monotonic() >= self._valid_until:
            self._lost = f"the lease on {self.name} ran out (the runner was paused or cut off)"
        return self._lost

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless the lease is still this runner's: alive on the
        local clock (every call) and the store still holding its generation (read again when
        the last read is a second old, so a large run does not double its store reads)."""
        why = self.lost
        if why is None and time.monotonic() - self._read >= _READ_EVERY:
            self._read = time.monotonic()
            try:
                held = self.store.lease_generation(self.name, self.owner)
            except Exception as exc:
                raise StoreFailed.of(exc) from exc
            if held != self.generation:
                why = f"the lease on {self.name} was taken over by another runner"
                self._lost = why
        if why is not None:
            raise LeaseLost(f"{why}; the run stopped before its next write")

    def release(self) -> None:
        """Stop renewing and give the lock back (when it is still this runner's)."""
        self._stop.set()
        self._thread.join(timeout=5)
        if self._lost is None:
            self.store.release_lock(self.name, self.owner)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.release()

    def _renew(self) -> None:
        every = self.ttl.total_seconds() / 3
        while not self._stop.wait(every):
            started = time.monotonic()
            if self.lost is not None:  # paused past the lease: never extend it afterwards
                logger.warning("{}", self._lost)
                return
            try:
                renewed = self.store.renew_lease(self.name, self.owner, self.generation, self.ttl)
            except Exception as exc:  # the store is unreachable: try again until it runs out
                logger.warning("the lease on {} could not be renewed: {}", self.name, exc)
                continue
            if not renewed:
                self._lost = f"the lease on {self.name} was taken over by another runner"
                logger.warning("{}", self._lost)
                return
            self._valid_until = started + self.ttl.total_seconds()
