"""The JSON documents ``--json`` prints: versioned, with one time format, secrets masked.

Every ``idsync … --json`` prints one JSON object (a scheduled run prints one per line) whose
first key is ``schema_version``: a program reading it can tell the shape it was written for.
The version counts up only when a key is removed or changes meaning; new keys may appear in
any version. Dates are ``YYYY-MM-DD``; moments are ISO 8601 with their offset
(``2026-01-15T09:30:00.123456+00:00``), never without one. The shapes are documented in
``docs/reference/json.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from idsync.secrets import redact_data

__all__ = ["SCHEMA_VERSION", "document", "dumps", "timestamp"]

SCHEMA_VERSION = 1


def timestamp(value: Any) -> Any:
    """A moment as ISO 8601 with its offset (a stored moment without one is UTC, as idsync
    writes them), a date as ``YYYY-MM-DD``; anything else as it is."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return timestamp(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def document(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as a versioned document: ``schema_version`` first, times in one format."""
    body = _plain(data)
    body.pop("schema_version", None)
    return {"schema_version": SCHEMA_VERSION, **body}


def dumps(data: Mapping[str, Any], *, indent: int | None = 2) -> str:
    """The document for ``data`` as JSON text, every secret masked."""
    return json.dumps(redact_data(document(data)), indent=indent, default=str, ensure_ascii=False)
