"""Many pipelines in one PostgreSQL database: a schema of its own for each.

A pipeline's state tables are keyed by target and person, not by pipeline. Rather than a
pipeline column in every table and every query (where one forgotten ``WHERE`` would let one
organisation's run read or disable another's accounts), each pipeline sharing a database gets
a PostgreSQL schema of its own, ``idsync_<name>``, and its connections see that schema only
(libpq's ``options=-csearch_path=…``). Every query stays as it is, the isolation is the
database's, and one organisation's state can be backed up, moved or dropped on its own.

In the pipeline file::

    state:
      url: ${IDSYNC_FLEET}         # the one database, e.g. the fleet's
      per_pipeline: true           # schema idsync_<name>, made and migrated on first use

or ``schema: acme`` to name the schema yourself. A URL without a schema keeps working as it
did (the database's ``public`` schema): nothing is moved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from idsync.state.location import StateError, StateLocation, StoreMissing, state_url

__all__ = [
    "SCHEMA_PREFIX",
    "STATE_JSON_SCHEMA",
    "ensure_schema",
    "in_schema",
    "pipeline_schema",
    "resolve_state",
    "same_store",
]

SCHEMA_PREFIX = "idsync_"
"""The prefix of a pipeline's schema in a shared database: ``idsync_<name>``."""

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]*\Z")
_MAX = 63
"""PostgreSQL's longest identifier (bytes)."""
_SCHEMA_KEY = 0x1D5_5C4E
"""The PostgreSQL advisory lock taken while a pipeline's schema is made."""
_KEYS = frozenset({"url", "per_pipeline", "schema"})

STATE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "The PostgreSQL database's URL."},
                "per_pipeline": {
                    "type": "boolean",
                    "description": "A schema of the pipeline's own: idsync_<name>.",
                },
                "schema": {"type": "string", "description": "The schema, named yourself."},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    ],
    "default": "sqlite:///idsync.db",
    "title": "State",
}
"""The ``state`` key in the pipeline file's JSON Schema: a URL, or a mapping with one."""


def pipeline_schema(name: str) -> str:
    """The schema of pipeline ``name`` in a shared database: ``idsync_<name>``.

    Only plain names are taken (lower-case letters, digits and ``_``, starting with a
    letter), so two pipelines never share a schema and every tool shows it as it is;
    :class:`ValueError` says what to do otherwise."""
    schema = SCHEMA_PREFIX + name
    if not _NAME.match(name) or len(schema) > _MAX:
        raise ValueError(
            f"a schema per pipeline is named after the pipeline, and {name!r} is not a plain "
            f"name (lower-case letters, digits and _, starting with a letter, at most "
            f"{_MAX - len(SCHEMA_PREFIX)} long): set the pipeline's name, or give state.schema"
        )
    return schema


def in_schema(url: str, schema: str) -> str:
    """``url`` whose connections see the schema ``schema`` only (libpq's ``options``, after
    any the URL already has)."""
    parsed = state_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(
            f"a schema per pipeline needs PostgreSQL, not {parsed.get_backend_name()}: "
            "SQLite keeps each pipeline in a file of its own"
        )
    location = StateLocation(parsed)
    if location.schema is not None or "search_path" in str(parsed.query.get("options", "")):
        raise ValueError("the URL sets a search_path already: leave it out, or the schema")
    options = str(parsed.query.get("options", "")).strip()
    merged = f"{options} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": merged}).render_as_string(hide_password=False)


def resolve_state(value: Any, name: str, errors: list[tuple[str, str]]) -> Any:
    """The ``state`` of a pipeline file as a URL: a string as it is; a mapping ``{url,
    per_pipeline, schema}`` as its URL in the pipeline's schema. Problems go to ``errors``
    as ``(key path, message)``; the URL alone is returned then."""
    if not isinstance(value, Mapping):
        return value
    url = value.get("url")
    before = len(errors)
    for key in sorted(set(value) - _KEYS, key=str):
        errors.append((f"state.{key}", "unknown key (state takes url, per_pipeline, schema)"))
    if not isinstance(url, str) or not url.strip():
        errors.append(("state.url", "the state store's URL is required"))
        return "sqlite://"
    per_pipeline = value.get("per_pipeline", False)
    schema = value.get("schema")
    if not isinstance(per_pipeline, bool):
        errors.append(("state.per_pipeline", "true or false"))
    elif schema is not None and per_pipeline:
        errors.append(("state.schema", "give schema or per_pipeline: true, not both"))
    elif schema is not None and (
        not isinstance(schema, str) or not _SCHEMA.match(schema) or len(schema) > _MAX
    ):
        errors.append(
            ("state.schema", f"{schema!r} is not a plain schema name (a-z, 0-9, _; at most 63)")
        )
    if len(errors) > before:
        return url
    if per_pipeline:
        try:
            schema = pipeline_schema(name)
        except ValueError as exc:
            errors.append(("state.per_pipeline", str(exc)))
            return url
    if schema is None:
        return url
    try:
        return in_schema(url, schema)
    except (ValueError, StateError) as exc:
        errors.append(("state.url", str(exc)))
        return url


def ensure_schema(location: StateLocation, *, create: bool) -> None:
    """Make sure the schema of a store in its own schema exists: made when ``create``
    (runners making it at once take turns), else :class:`StoreMissing`.

    A connection whose search path names a schema that does not exist yet cannot create
    tables, so this is done first, on a connection of its own."""
    schema = location.schema
    if schema is None:
        return
    engine = sa.create_engine(location.url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            query = sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :schema")
            if conn.execute(query, {"schema": schema}).first() is not None:
                return
            if not create:
                raise StoreMissing(
                    f"there is no state store in {location.display} yet (no schema "
                    f"{schema}): nothing has run with this state. Check the state key"
                )
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_KEY})
            quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    finally:
        engine.dispose()


def same_store(one: str, other: str) -> bool:
    """Whether two state URLs name the same store: the same database (host, port, name) and
    the same schema, whoever logs in."""

    def key(text: str) -> tuple[str, str | None, int | None, str | None, str | None]:
        location = StateLocation.parse(text)
        url = location.url
        return (url.get_backend_name(), url.host, url.port, url.database, location.schema)

    try:
        return key(one) == key(other)
    except StateError:
        return False
