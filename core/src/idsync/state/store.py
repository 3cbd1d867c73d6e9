"""The state store: what idsync knows and did, in SQLite (default) or PostgreSQL.

It holds the last accepted snapshot of every source, for each person and target the account
reference and the attributes last applied (the *shadow*), granted permissions, ensured
resources, runs, plans, held work and the audit trail. The schema is created and upgraded
through Alembic migrations when the store opens.

Reads for a run are batched (one query per table and target); each finished action is written
with its audit record in one transaction at once, so a killed run loses nothing it did.

:class:`Store` has parts of its own: :mod:`~idsync.state.snapshots` (the sources) and
:mod:`~idsync.state.outcomes` (audit records, shadows, the action journal, blocked actions).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
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

from idsync import collector
from idsync.secrets import redact, redact_data
from idsync.state import schema as t
from idsync.state.integrity import check_file, check_rows, check_tables, json_loads, wrap_errors
from idsync.state.location import StateError, StateLocation, StoreMissing
from idsync.state.outcomes import Outcomes
from idsync.state.part import CHUNK as _CHUNK
from idsync.state.records import AccountState, BlockedAction, InDoubt, Missing, now
from idsync.state.snapshots import Snapshots

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

EXIT_CRASHED = 1
LEASE_TTL = dt.timedelta(seconds=60)
"""How long a pipeline's lock lasts without renewal; a live runner renews it every third."""
_MIGRATE_KEY = 0x1D5_7A7E
"""The PostgreSQL advisory lock taken while migrating (any constant; idsync's own)."""


def _aware(stamp: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


class LockHeld(Exception):
    """Another runner holds the pipeline's lock."""


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


class Store(Snapshots, Outcomes):
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

    # --- runs ------------------------------------------------------------------------

    def start_run(self, pipeline: str, command_name: str, as_of: dt.date, dry_run: bool) -> int:
        """Record the start of a run and return its id."""
        with self._write() as conn:
            result = conn.execute(
                t.runs.insert().values(
                    pipeline=pipeline,
                    command=command_name,
                    started=now(),
                    as_of=as_of,
                    dry_run=dry_run,
                    status="running",
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(
        self, run_id: int, status: str, exit_code: int, counts: Mapping[str, Any]
    ) -> None:
        """Record how a run ended."""
        with self._write() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(finished=now(), status=status, exit_code=exit_code, counts=dict(counts))
            )

    def close_abandoned_runs(self, pipeline: str) -> int:
        """Mark the pipeline's enforcing runs (``run`` and ``reconcile``, not dry) still
        ``running`` as ``crashed``.

        Called by a runner that holds the pipeline's lock: no other enforcing run of it can be
        alive, so one still marked running was killed. Returns how many were closed.
        """
        with self._write() as conn:
            result = conn.execute(
                t.runs.update()
                .where(
                    (t.runs.c.pipeline == pipeline)
                    & (t.runs.c.status == "running")
                    & (t.runs.c.dry_run == sa.false())
                )
                .values(status="crashed", finished=now(), exit_code=EXIT_CRASHED)
            )
            return int(result.rowcount or 0)

    def last_enforced(self, pipeline: str) -> dt.date | None:
        """The latest ``as_of`` an enforcing run (``run`` or ``reconcile``, not dry) of the
        pipeline was dated: time moves forward only from there."""
        r = t.runs.c
        query = sa.select(sa.func.max(r.as_of)).where(
            (r.pipeline == pipeline)
            & (r.dry_run == sa.false())
            & r.command.in_(("run", "reconcile"))
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return value if isinstance(value, dt.date) else None

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
        if pipeline:
            query = query.where(t.runs.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
            return dict(row._mapping) if row else None

    def knows_person(self, person: str) -> bool:
        """Whether the store has seen ``person``: in a snapshot, an account, the audit trail
        or the blocked list."""
        with self.engine.connect() as conn:
            for column in (
                t.persons.c.external_id,
                t.accounts.c.person,
                t.audit.c.person,
                t.blocked.c.person,
            ):
                query = sa.select(sa.literal(1)).where(column == person).limit(1)
                if conn.execute(query).first() is not None:
                    return True
        return False

    def save_plan(self, run_id: int, data: Any) -> None:
        """Store the plan a run made."""
        with self._write() as conn:
            conn.execute(t.plans.insert().values(run_id=run_id, data=redact_data(data)))

    # --- accounts, permissions, resources --------------------------------------------

    def accounts(self, target: str) -> dict[str, AccountState]:
        """Every account shadow of a target with its granted permissions, by person."""
        a, p = t.accounts.c, t.permissions.c
        shadows = sa.select(
            a.person, a.reference, a.data, a.enabled, a.disabled_on, a.unique_base
        ).where(a.target == target)
        granted = sa.select(p.person, p.key, p.reference).where(p.target == target)
        # Every account's data has the same few keys and every grant of a group the same key
        # and reference: each distinct string is held once, not once per account or grant.
        shared: dict[str, str] = {}
        with collector.paused(), self.engine.connect() as conn:
            # Fetched in batches and unpacked as tuples: a nightly run reads every shadow, and
            # the rows' own copies of the data are let go batch by batch.
            out = {
                person: AccountState(
                    person=person,
                    reference=reference,
                    data={shared.setdefault(k, k): v for k, v in data.items()} if data else {},
                    enabled=bool(enabled),
                    disabled_on=disabled_on,
                    unique_base=unique_base,
                )
                for person, reference, data, enabled, disabled_on, unique_base in conn.execute(
                    shadows.execution_options(yield_per=2000)
                )
            }
            for person, key, reference in conn.execute(granted):
                account = out.get(person)
                if account is not None:
                    account.permissions[shared.setdefault(key, key)] = (
                        reference if reference is None else shared.setdefault(reference, reference)
                    )
        return out

    def account_data(self, target: str, persons: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{person: data}`` of the given persons' account shadows in one target."""
        a = t.accounts.c
        query = sa.select(a.person, a.data).where(a.target == target)
        wanted = list(persons)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                part = query.where(a.person.in_(wanted[i : i + _CHUNK]))
                out.update({row[0]: row[1] or {} for row in conn.execute(part)})
        return out

    def account(self, target: str, person: str) -> AccountState | None:
        """One account shadow, or None."""
        return self.accounts_of(person).get(target)

    def accounts_of(self, person: str) -> dict[str, AccountState]:
        """``{target: shadow}`` for one person."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.accounts).where(t.accounts.c.person == person))
            out = {
                row.target: AccountState(
                    person=person,
                    reference=row.reference,
                    data=row.data or {},
                    enabled=bool(row.enabled),
                    disabled_on=row.disabled_on,
                    unique_base=row.unique_base,
                )
                for row in rows
            }
            perms = conn.execute(sa.select(t.permissions).where(t.permissions.c.person == person))
            for row in perms:
                if row.target in out:
                    out[row.target].permissions[row.key] = row.reference
        return out

    def unique_values(self, target: str, attribute: str) -> dict[Any, str]:
        """``{value: person}`` of a unique attribute over a target's accounts."""
        query = sa.select(t.accounts.c.person, t.accounts.c.data).where(
            t.accounts.c.target == target
        )
        with self.engine.connect() as conn:
            out: dict[Any, str] = {}
            for person, data in conn.execute(query):
                value = (data or {}).get(attribute)
                if value not in (None, ""):
                    out[value] = person
            return out

    def references(self, target: str) -> dict[str, str | None]:
        """``{person: account reference}`` of a target's accounts (no data, no permissions)."""
        query = sa.select(t.accounts.c.person, t.accounts.c.reference).where(
            t.accounts.c.target == target
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def resources(self, target: str) -> dict[str, str | None]:
        """``{key: reference}`` of the resources ensured in a target."""
        query = sa.select(t.resources.c.key, t.resources.c.reference).where(
            t.resources.c.target == target
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def blocked_actions(self, target: str) -> dict[tuple[str, str, str], BlockedAction]:
        """``{(person, kind, key): blocked action}`` of a target (``key`` empty when none)."""
        b = t.blocked_actions.c
        query = sa.select(b.person, b.kind, b.key, b.fingerprint, b.message, b.since).where(
            b.target == target
        )
        with self.engine.connect() as conn:
            return {
                (person, kind, key): BlockedAction(fingerprint, message, since)
                for person, kind, key, fingerprint, message, since in conn.execute(query)
            }

    def count_accounts(self, target: str) -> int:
        """How many accounts idsync manages in a target."""
        query = (
            sa.select(sa.func.count()).select_from(t.accounts).where(t.accounts.c.target == target)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- audit -----------------------------------------------------------------------

    def audit(
        self,
        *,
        person: str | None = None,
        target: str | None = None,
        run_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Audit records, newest first, filtered as asked."""
        query = sa.select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
        if person is not None:
            query = query.where(t.audit.c.person == person)
        if target is not None:
            query = query.where(t.audit.c.target == target)
        if run_id is not None:
            query = query.where(t.audit.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def audit_counts(self, run_id: int) -> dict[str, dict[str, int]]:
        """``{status: {kind: n}}`` for one run."""
        query = (
            sa.select(t.audit.c.status, t.audit.c.kind, sa.func.count())
            .where(t.audit.c.run_id == run_id)
            .group_by(t.audit.c.status, t.audit.c.kind)
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for status, kind, n in conn.execute(query):
                out.setdefault(status, {})[kind] = int(n)
        return out

    # --- blocked persons ---------------------------------------------------------------

    def replace_blocked(self, pipeline: str, run_id: int, blocked: Iterable[Any]) -> None:
        """Make ``blocked`` (:class:`~idsync.model.Blocked` items) the pipeline's blocked
        persons, keeping when each was first blocked for the same field and problem."""
        stamp = now()
        b = t.blocked.c
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for item in blocked:
            rows[(item.person, item.field)] = {
                "pipeline": pipeline,
                "person": item.person[:200],
                "field": item.field[:500],
                "source": item.source,
                "problem": redact(item.problem),
                "run_id": run_id,
                "since": stamp,
            }
        with self._write() as conn:
            earlier = conn.execute(
                sa.select(b.person, b.field, b.problem, b.since).where(b.pipeline == pipeline)
            )
            for person, field_name, problem, since in earlier:
                row = rows.get((person, field_name))
                if row is not None and row["problem"] == problem:
                    row["since"] = since
            conn.execute(t.blocked.delete().where(b.pipeline == pipeline))
            if rows:
                conn.execute(t.blocked.insert(), list(rows.values()))

    def blocked_of(self, person: str) -> list[dict[str, Any]]:
        """Why ``person`` is blocked (in any pipeline of this store), by the last run."""
        query = sa.select(t.blocked).where(t.blocked.c.person == person).order_by(t.blocked.c.field)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # --- held work -------------------------------------------------------------------

    def hold(
        self,
        *,
        run_id: int,
        pipeline: str,
        system: str,
        kind: str,
        reason: str,
        count: int,
        detail: Any = None,
    ) -> int:
        """Record held work (an import or an action kind) and return its id."""
        with self._write() as conn:
            result = conn.execute(
                t.held.insert().values(
                    run_id=run_id,
                    pipeline=pipeline,
                    system=system,
                    kind=kind,
                    reason=reason,
                    count=count,
                    status="held",
                    created=now(),
                    detail=redact_data(detail),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def held(
        self, pipeline: str | None = None, status: str | None = "held"
    ) -> list[dict[str, Any]]:
        """Held work, newest first."""
        query = sa.select(t.held).order_by(t.held.c.id.desc())
        if pipeline is not None:
            query = query.where(t.held.c.pipeline == pipeline)
        if status is not None:
            query = query.where(t.held.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def supersede_held(self, pipeline: str, system: str, kind: str) -> None:
        """Close earlier held records of the same kind: a newer run re-evaluated them."""
        with self._write() as conn:
            conn.execute(
                t.held.update()
                .where(
                    (t.held.c.pipeline == pipeline)
                    & (t.held.c.system == system)
                    & (t.held.c.kind == kind)
                    & (t.held.c.status == "held")
                )
                .values(status="superseded", decided=now())
            )

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

    # --- reconciliation and approvals --------------------------------------------------

    def held_item(self, held_id: int) -> dict[str, Any] | None:
        """One held record (whatever its status), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.held).where(t.held.c.id == held_id)).first()
            return dict(row._mapping) if row else None

    def held_in_runs(self, run_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The held records the given runs made, oldest first."""
        wanted = list(run_ids)
        if not wanted:
            return []
        query = sa.select(t.held).where(t.held.c.run_id.in_(wanted)).order_by(t.held.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def decide_held(
        self,
        held_id: int,
        status: str,
        run_id: int | None = None,
        *,
        actor: str | None = None,
        comment: str | None = None,
        audit: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Mark held work ``approved`` (carried out by ``run_id``) or ``rejected``, by
        ``actor`` with ``comment``.

        ``audit`` are the decision's audit records (``run_id``, ``target``, ``person``,
        ``kind``, ``status``, ``key``, ``messages``), written with ``actor`` in the same
        transaction: who decided stands in the audit trail beside what was done.
        """
        stamp = now()
        with self._write() as conn:
            conn.execute(
                t.held.update()
                .where(t.held.c.id == held_id)
                .values(
                    status=status,
                    decided=stamp,
                    decided_run=run_id,
                    decided_by=actor,
                    comment=redact_data(comment),
                )
            )
            rows = [
                {
                    "run_id": record["run_id"],
                    "at": stamp,
                    "target": record["target"],
                    "person": record.get("person"),
                    "kind": record["kind"],
                    "status": record["status"],
                    "key": record.get("key"),
                    "reference": record.get("reference"),
                    "changes": {},
                    "messages": redact_data(list(record.get("messages") or [])),
                    "dry_run": False,
                    "actor": actor,
                }
                for record in audit
            ]
            for i in range(0, len(rows), _CHUNK):
                conn.execute(t.audit.insert(), rows[i : i + _CHUNK])

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

    def exclude(
        self,
        target: str,
        reference: str,
        until: dt.date,
        *,
        reason: str | None = None,
        label: str | None = None,
    ) -> None:
        """Allow an account no person owns in ``target`` until ``until`` (inclusive)."""
        where = (t.exclusions.c.target == target) & (t.exclusions.c.reference == reference)
        with self._write() as conn:
            conn.execute(t.exclusions.delete().where(where))
            conn.execute(
                t.exclusions.insert().values(
                    target=target,
                    reference=reference,
                    label=label,
                    until=until,
                    reason=reason,
                    created=now(),
                )
            )

    def exclusions(self, target: str | None = None) -> list[dict[str, Any]]:
        """Orphan exclusions (expired ones too), by target and reference."""
        query = sa.select(t.exclusions).order_by(t.exclusions.c.target, t.exclusions.c.reference)
        if target is not None:
            query = query.where(t.exclusions.c.target == target)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
