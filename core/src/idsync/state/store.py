"""The state store: what idsync knows and did, in SQLite (default) or PostgreSQL.

It holds the last accepted snapshot of every source, for each person and target the account
reference and the attributes last applied (the *shadow*), granted permissions, ensured
resources, runs, plans, held work and the audit trail. The schema is created and upgraded
through Alembic migrations when the store opens.

Reads for a run are batched (one query per table and target); each finished action is written
with its audit record in one transaction at once, so a killed run loses nothing it did.

:class:`Store` opens the store; its parts hold the rest: :mod:`~idsync.state.snapshots` (the
sources), :mod:`~idsync.state.outcomes` (audit records, shadows, the action journal, blocked
actions), :mod:`~idsync.state.runs` (runs, the audit trail, blocked persons),
:mod:`~idsync.state.accounts` (accounts, permissions, resources), :mod:`~idsync.state.held`
(held work and its decisions), :mod:`~idsync.state.locks` (locks and leases) and
:mod:`~idsync.state.users` (the console's users).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

from idsync.secrets import redact
from idsync.state.accounts import Accounts
from idsync.state.held import HeldWork
from idsync.state.integrity import check_file, check_rows, check_tables, json_loads, wrap_errors
from idsync.state.location import StateError, StateLocation, StoreMissing
from idsync.state.locks import LEASE_TTL, LockHeld, Locks
from idsync.state.outcomes import Outcomes
from idsync.state.records import AccountState, BlockedAction, InDoubt, Missing, now
from idsync.state.runs import Runs
from idsync.state.shared import ensure_schema
from idsync.state.snapshots import Snapshots
from idsync.state.users import Users

__all__ = [
    "LEASE_TTL",
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

_MIGRATE_KEY = 0x1D5_7A7E
"""The PostgreSQL advisory lock taken while migrating (any constant; idsync's own)."""


class StoreFailed(Exception):
    """The state store could not record what happened: a run stops at once (the actions in
    flight finish, no new call starts), and nothing is recorded as a target's failure."""

    @classmethod
    def of(cls, exc: BaseException) -> StoreFailed:
        """The failure ``exc`` of a write, in words (secrets redacted)."""
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0:1]
        detail = redact(text[0] if text else type(exc).__name__)[:300]
        return cls(f"the state store failed: {type(exc).__name__}: {detail}; the run stopped")


@cache
def _known_revisions() -> frozenset[str | None]:
    """Every schema revision of this idsync's migrations."""
    scripts = ScriptDirectory.from_config(_migrations())
    return frozenset(script.revision for script in scripts.walk_revisions())


def head_revision() -> str | None:
    """The newest schema revision of this idsync's migrations."""
    return ScriptDirectory.from_config(_migrations()).get_current_head()


_WAL_PATIENCE = 30.0
"""Seconds a new connection keeps trying to switch a locked SQLite file to WAL."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Put the file in WAL mode, waiting for another connection doing the same.

    Two runners opening a new state file at once both switch it to WAL; SQLite answers the
    second "database is locked" at once, without its busy timeout, so it tries again.
    """
    deadline = time.monotonic() + _WAL_PATIENCE
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _engine(location: StateLocation) -> Engine:
    options: dict[str, Any] = {"future": True, "json_deserializer": json_loads}
    if location.url.get_backend_name() == "sqlite" and location.file is None:
        # One in-memory database shared by every thread, not one per connection.
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(location.url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _migrations() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("idsync.state") / "migrations"))
    return cfg


class Store(Runs, Accounts, HeldWork, Locks, Users, Snapshots, Outcomes):
    """Open (and migrate) the state store at a SQLAlchemy URL.

    ``create=False`` opens only a store that exists: a missing one raises
    :class:`~idsync.state.location.StateError` (commands that only read never create one).
    ``check`` says how thoroughly the store is checked first (:mod:`idsync.state.integrity`):
    ``"pages"`` has SQLite check every page (a fraction of a second per 100 MB), ``"all"``
    also parses every JSON value, as a run does before it sends anything. Whatever ``check``
    says, an existing store that is empty, is not a database or lacks a table raises
    ``StateError``: it is never taken for a new one. :attr:`created` says whether this
    opening made the store.
    """

    def __init__(
        self, url: str | URL, *, create: bool = True, check: Literal["", "pages", "all"] = ""
    ) -> None:
        self.location = StateLocation.parse(url)
        self.url = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        self.created = False
        self._write_lock = threading.Lock()
        check_file(self.location)
        path = self.location.file
        if path is not None and not path.exists():
            if not create:
                raise StoreMissing(
                    f"there is no state store at {self.location.display} ({path.resolve()}): "
                    "nothing has run with this state here. Check the state key and the "
                    "directory idsync runs in (a relative SQLite path is relative to it)"
                )
            try:
                self.created = self._create_file(path)
            except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
                raise wrap_errors(self.location, exc) from None
        try:
            ensure_schema(self.location, create=create)  # a pipeline's own, in a shared database
        except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
            raise wrap_errors(self.location, exc) from None
        self.engine: Engine = _engine(self.location)
        try:
            self._open(create=create, check=check)
        except StateError:
            self.engine.dispose()
            raise
        except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
            self.engine.dispose()
            raise wrap_errors(self.location, exc) from None

    def _create_file(self, path: Path) -> bool:
        """Make a new SQLite store at ``path``, migrated whole before it appears there.

        The schema is built in a file beside it, then linked into place (never over an
        existing file), so a store that exists is always a complete one: a run killed while
        creating leaves no half-made store behind. Returns False when another runner created
        it first (its store is then used).
        """
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
        engine = _engine(StateLocation.parse(f"sqlite:///{temporary}"))
        try:
            with engine.begin() as conn:
                cfg = _migrations()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()
        try:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links
                if path.exists():
                    return False
                os.replace(temporary, path)
            return True
        finally:
            for leftover in (
                temporary,
                *(temporary.with_name(temporary.name + s) for s in ("-wal", "-shm")),
            ):
                leftover.unlink(missing_ok=True)

    def _open(self, *, create: bool, check: str) -> None:
        with self.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        if "alembic_version" not in tables:
            if tables:
                raise StateError(
                    f"{self.location.display} is not an idsync state store (it holds the "
                    f"tables {', '.join(sorted(tables)[:5])} but no idsync schema). Nothing was "
                    "changed; check the state key"
                )
            if self.location.file is not None:
                # A store file is only ever made whole (see _create_file): this one lost it all.
                raise StateError(
                    f"state store {self.location.display} holds no tables at all: its history "
                    "is gone. Nothing was changed; restore it from a backup, or remove the "
                    "file to start a new store"
                )
            if not create:
                raise StoreMissing(
                    f"there is no state store in {self.location.display} yet (no idsync tables): "
                    "nothing has run with this state. Check the state key"
                )
            self.created = True
        else:
            revision = self.revision()
            if revision not in _known_revisions():
                raise StateError(
                    f"state store {self.location.display} has the schema {revision!r}, which "
                    "this idsync does not know (written by a newer version?). Upgrade idsync"
                )
            with self.engine.connect() as conn:  # whole before it is migrated, too
                check_tables(conn, self.location, revision)
        self.migrate()
        with self.engine.connect() as conn:
            check_tables(conn, self.location)
            if check:
                check_rows(conn, self.location, json_values=check == "all")

    def diagnose(self) -> str | None:
        """What is damaged, found by the thorough checks (every page, every JSON value):
        after a read failed on a damaged value, this names the table, column and row."""
        try:
            with self.engine.connect() as conn:
                check_rows(conn, self.location)
        except StateError as exc:
            return str(exc)
        except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
            return str(wrap_errors(self.location, exc))
        return None

    def revision(self) -> str | None:
        """The schema revision the store is at (None: not an idsync store yet)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head(self) -> str | None:
        """The schema revision this idsync writes."""
        return head_revision()

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Bring the schema to the newest migration.

        Runners that open a new store at the same moment take turns (a transaction-level
        advisory lock on PostgreSQL, the database's write lock on SQLite): the second finds
        the schema made, instead of failing on tables that were created under its feet.
        """
        cfg = _migrations()
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_KEY})
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
