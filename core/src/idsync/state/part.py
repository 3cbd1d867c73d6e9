"""What the parts of the state store share: the SQLAlchemy engine and one writer at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

__all__ = ["CHUNK", "StorePart"]

CHUNK = 500
"""Values in one ``IN (…)`` clause or one batch insert."""


class StorePart:
    """A part of :class:`~idsync.state.Store`: its methods read through :attr:`engine` and
    write through :meth:`_write` (one transaction, one writer in this process at a time)."""

    engine: Engine
    _write_lock: threading.Lock

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn
