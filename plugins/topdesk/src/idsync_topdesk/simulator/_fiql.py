"""The FIQL subset TOPdesk's person list understands: ``==``, ``!=``, ``;`` (and), ``,`` (or)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Clause", "FiqlError", "matches", "parse"]


class FiqlError(ValueError):
    """The query is not FIQL this simulator understands."""


@dataclass(frozen=True)
class Clause:
    """``field==value`` or ``field!=value``."""

    field: str
    negate: bool
    value: Any


_FIELD_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def parse(query: str) -> list[list[Clause]]:
    """Parse ``query`` into OR-groups of AND-ed clauses."""
    groups: list[list[Clause]] = [[]]
    i, n = 0, len(query)
    while True:
        while i < n and query[i] == " ":
            i += 1
        start = i
        while i < n and query[i] in _FIELD_CHARS:
            i += 1
        field = query[start:i]
        if not field:
            raise FiqlError(f"expected a field name at position {start}")
        while i < n and query[i] == " ":
            i += 1
        operator = query[i : i + 2]
        if operator not in ("==", "!="):
            raise FiqlError(f"expected == or != after {field!r}")
        i += 2
        while i < n and query[i] == " ":
            i += 1
        value, i = _value(query, i)
        groups[-1].append(Clause(field, operator == "!=", value))
        while i < n and query[i] == " ":
            i += 1
        if i >= n:
            return groups
        if query[i] == ",":
            groups.append([])
        elif query[i] != ";":
            raise FiqlError(f"unexpected {query[i]!r} at position {i}")
        i += 1


def _value(query: str, i: int) -> tuple[Any, int]:
    n = len(query)
    if i < n and query[i] == "'":
        out: list[str] = []
        i += 1
        while i < n:
            ch = query[i]
            if ch == "\\" and i + 1 < n:
                out.append(query[i + 1])
                i += 2
            elif ch == "'":
                return "".join(out), i + 1
            else:
                out.append(ch)
                i += 1
        raise FiqlError("a quoted value is not closed")
    start = i
    while i < n and query[i] not in ";,":
        i += 1
    bare = query[start:i].strip()
    if not bare:
        raise FiqlError(f"expected a value at position {start}")
    if bare in ("true", "false"):
        return bare == "true", i
    if bare == "null":
        return None, i
    return bare, i


def _resolve(row: Mapping[str, Any], field: str) -> Any:
    value: Any = row
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, Mapping):
        return value.get("id")
    return value


def _equal(actual: Any, wanted: Any) -> bool:
    if wanted is None:
        return actual in (None, "")
    if isinstance(wanted, bool):
        return actual is wanted
    if isinstance(actual, bool):
        return str(wanted).lower() == str(actual).lower()
    return str("" if actual is None else actual).casefold() == str(wanted).casefold()


def matches(row: Mapping[str, Any], groups: list[list[Clause]]) -> bool:
    """Whether ``row`` satisfies any group (strings compare case-insensitively)."""
    return any(
        all(_equal(_resolve(row, c.field), c.value) != c.negate for c in group) for group in groups
    )
