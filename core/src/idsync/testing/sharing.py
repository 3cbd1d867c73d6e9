"""Running the contract kit against one live endpoint from several processes at once.

Two things make parallel runs (``pytest -n 2``, or two runs side by side) give the verdicts of
a serial run:

- :func:`unique` names every object a check makes after the run, the worker and a counter,
  so no two checks anywhere share a user name or a group;
- :class:`EndpointLock`, a readers-writer lock between processes (``flock`` on a file in the
  temporary directory). Every hook call the kit makes holds it *shared*; a block that proves
  "this wrote nothing" holds it *exclusive*, so no other check's write lands inside it. A
  write probe counts every write the endpoint sees, and without the lock another worker's
  create would count against this worker's dry-run.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: checks run unlocked
    fcntl = None  # type: ignore[assignment]

__all__ = ["RUN", "EndpointLock", "unique"]

RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:6]
"""This test run's mark: the same in every xdist worker of one run, new in every run."""

_WORKER = "".join(c for c in os.environ.get("PYTEST_XDIST_WORKER", "") if c.isdigit()) or "m"
_COUNTER = itertools.count(1)
_COUNTER_LOCK = threading.Lock()


def unique() -> str:
    """A short text new on every call: run mark, worker, counter (``3fa2c1m7``, ``3fa2c10a``).

    Letters and digits only, so it fits user names, employee numbers and group names alike.
    """
    with _COUNTER_LOCK:
        n = next(_COUNTER)
    return f"{RUN}{_WORKER}{n:x}"


class EndpointLock:
    """A readers-writer lock shared by every process that checks the same endpoint.

    ``key`` names the endpoint (the kit uses the plugin class). Nested use inside one
    harness is free: a call made while the harness holds the lock exclusively goes ahead.
    """

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / f"idsync-contract-{digest}.lock"
        self._file: IO[bytes] | None = None
        self._mode: int | None = None
        self._depth = 0

    def _set(self, mode: int) -> None:
        if fcntl is None:
            return
        if self._file is None:
            self._file = self.path.open("ab")
        fcntl.flock(self._file.fileno(), mode)

    @contextmanager
    def _held(self, mode: int) -> Iterator[None]:
        previous = self._mode
        if previous is not None and (previous == mode or mode == _SHARED):
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._set(mode)
        self._mode = mode
        try:
            yield
        finally:
            if previous is None:
                self._set(_UNLOCK)
            else:
                self._set(previous)
            self._mode = previous

    def shared(self) -> AbstractContextManager[None]:
        """Held while a check calls the plugin or writes through the author's callables."""
        return self._held(_SHARED)

    def exclusive(self) -> AbstractContextManager[None]:
        """Held while a check proves that a call wrote nothing."""
        return self._held(_EXCLUSIVE)

    def close(self) -> None:
        """Release the lock file."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._mode = None


_SHARED = fcntl.LOCK_SH if fcntl is not None else 1
_EXCLUSIVE = fcntl.LOCK_EX if fcntl is not None else 2
_UNLOCK = fcntl.LOCK_UN if fcntl is not None else 8
