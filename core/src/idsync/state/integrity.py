"""Checks that a state store is whole before idsync trusts it.

The state store is the audit trail and the list of accounts idsync manages; a damaged one must
never be mistaken for an empty one (a fresh start would forget every account, and with it
the record of who had access). So a store is opened only when it is what it claims to be:

- a SQLite file that exists but holds nothing (0 bytes), or is no SQLite database, is an error;
- its schema has the migration table and every table idsync uses (a dropped table is an
  error, never re-created empty);
- before a run, SQLite's own ``PRAGMA quick_check`` finds garbled or truncated pages, and
  every JSON value is checked to parse, so a broken row is found before anything is sent to
  a target, not halfway through a run.

Each finding is a :class:`~idsync.state.location.StateError` naming the store (password
masked), what is wrong and what to do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idsync.secrets import redact
from idsync.state import schema as t
from idsync.state.location import StateError, StateLocation, StoreMissing

__all__ = ["check_file", "check_rows", "check_tables", "json_loads", "probe", "wrap_errors"]

_RESTORE = "restore it from a backup (see the state store page of the docs)"


def check_file(location: StateLocation) -> None:
    """A SQLite store's file, before SQLite opens it: empty or not a database is an error."""
    path = location.file
    if path is None or not path.exists():
        return
    if path.is_dir():
        raise StateError(f"state store {location.display}: {path} is a directory, not a file")
    size = path.stat().st_size
    if size == 0:
        raise StateError(
            f"state store {location.display} is an empty file (0 bytes): its history is "
            f"gone. Nothing was changed; {_RESTORE}, or remove the file to start a new store"
        )
    with path.open("rb") as handle:
        header = handle.read(16)
    if header != b"SQLite format 3\x00":
        raise StateError(
            f"state store {location.display} is not a SQLite database ({size} bytes of something "
            f"else). Nothing was changed; check the state key, or {_RESTORE}"
        )


@cache
def tables_at(revision: str | None) -> frozenset[str]:
    """The tables a store at schema ``revision`` has (the migrations, run on an empty
    in-memory database up to it); every table of the schema for the newest revision."""
    from alembic import command

    from idsync.state.store import _migrations, head_revision

    if revision is None or revision == head_revision():
        return frozenset(t.metadata.tables)
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            cfg = _migrations()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            return frozenset(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def check_tables(conn: Connection, location: StateLocation, revision: str | None = None) -> None:
    """Every table a store at ``revision`` (default: the newest) has is there."""
    present = set(sa.inspect(conn).get_table_names())
    missing = sorted(tables_at(revision) - present)
    if missing:
        raise StateError(
            f"state store {location.display} is damaged: the table(s) {', '.join(missing)} "
            f"are missing. Nothing was changed; {_RESTORE}"
        )


def _json_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in t.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.JSON):
                yield table, column


def check_rows(conn: Connection, location: StateLocation, *, json_values: bool = True) -> None:
    """SQLite's ``quick_check`` and (``json_values``) a parse of every JSON value: a garbled
    page, or a row whose JSON is broken, is an error naming the table, the column and the row."""
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL checks its pages itself and refuses invalid JSON on insert
    problems = [
        line.strip()
        for row in conn.exec_driver_sql("PRAGMA quick_check(5)")
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ]
    if problems != ["ok"]:
        raise StateError(
            f"state store {location.display} is damaged ({'; '.join(problems)}). "
            f"Nothing was changed; {_RESTORE}"
        )
    for table, column in _json_columns() if json_values else ():
        keys = ", ".join(c.name for c in table.primary_key.columns) or "rowid"
        query = (
            f"SELECT {keys} FROM {table.name} WHERE {column.name} IS NOT NULL "  # noqa: S608 (names from the schema)
            f"AND json_valid({column.name}) = 0 LIMIT 1"
        )
        bad = conn.exec_driver_sql(query).first()
        if bad is not None:
            where = ", ".join(f"{k}={v!r}" for k, v in zip(keys.split(", "), bad, strict=False))
            raise StateError(
                f"state store {location.display} is damaged: {table.name}.{column.name} of the "
                f"row {where} is not valid JSON. Nothing was changed; {_RESTORE}"
            )


def json_loads(text: str | bytes) -> Any:
    """The state store's JSON reader: a value that does not parse is a :class:`StateError`
    (not a traceback from deep inside SQLAlchemy)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateError(
            f"the state store is damaged: a stored JSON value does not parse ({exc}); {_RESTORE}"
        ) from None


def wrap_errors(location: StateLocation, exc: Exception) -> StateError:
    """A database error from opening or checking the store, as a :class:`StateError`."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).splitlines()[0] if str(original) else type(original).__name__
    text = redact(text)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return StateError(
            f"state store {location.display} is damaged ({text}). Nothing was changed; {_RESTORE}"
        )
    return StateError(f"cannot open the state store {location.display}: {text}")


def probe(location: StateLocation) -> tuple[bool | None, str]:
    """What ``idsync check --connect`` says of a state store, changing nothing in it: whether
    it is reachable, whole, at this idsync's schema and writable. ``(None, why)`` when there
    is nothing to check yet (the first run creates it); ``(False, why)`` when a run would fail."""
    from alembic.migration import MigrationContext

    from idsync.state.shared import ensure_schema
    from idsync.state.store import _known_revisions, head_revision

    path = location.file
    if path is not None and not path.exists():
        if not path.parent.is_dir():
            return False, f"{location.display}: the directory {path.parent} does not exist"
        if not os.access(path.parent, os.W_OK):
            return False, f"{location.display}: the directory {path.parent} is not writable"
        return None, f"{location.display} does not exist yet: the first run creates it"
    try:
        check_file(location)
        ensure_schema(location, create=False)
        engine = sa.create_engine(location.url, json_deserializer=json_loads)
    except StoreMissing:
        return None, f"{location.display} does not exist yet: the first run creates it"
    except StateError as exc:
        return False, str(exc)
    except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
        return False, str(wrap_errors(location, exc))
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            if revision is None:
                if path is None and not sa.inspect(conn).get_table_names():
                    return (
                        None,
                        f"{location.display} holds no idsync tables yet: the first run creates them",
                    )
                return False, f"{location.display} is not an idsync state store (no idsync schema)"
            if revision not in _known_revisions():
                return False, (
                    f"{location.display} has the schema {revision!r}, unknown to this idsync "
                    "(written by a newer version?)"
                )
            check_tables(conn, location, revision)
            check_rows(conn, location)
        with engine.connect() as conn, conn.begin() as transaction:
            # A write that is never committed: proves the store takes writes, leaves nothing.
            conn.execute(
                t.locks.insert().values(
                    name="idsync-check-connect",
                    owner="idsync check --connect",
                    acquired=dt.datetime.now(dt.UTC),
                    expires=dt.datetime.now(dt.UTC),
                )
            )
            transaction.rollback()
    except StateError as exc:
        return False, str(exc)
    except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
        return False, str(wrap_errors(location, exc))
    finally:
        engine.dispose()
    latest = head_revision()
    if revision != latest:
        return True, (
            f"{location.display}: reachable, whole and writable; at schema {revision}, the next "
            f"run migrates it to {latest}"
        )
    return True, f"{location.display}: reachable, whole, migrated (schema {revision}) and writable"
