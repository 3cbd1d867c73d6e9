"""Remembered results: a rule or template evaluated once for each distinct set of values it
reads, over one pass through persons that changes none of them (a target's plan).

A plan evaluates the same rules for every person and contract, and most of them read only
a contract's references: ``contract.title.code == 'MGR'`` reads the contract's title, and the
import shares one title object among every contract naming it (:mod:`idsync.importer`), so
100,000 persons hold a few dozen. The result of such a rule depends on nothing but what it
reads (:mod:`idsync.reads`), so it is remembered by those values:
a model by its identity (kept alive with the result, and not changed while a plan runs), any
other value by its type and value. A rule that reads something different for every person
(``person.name``) stops being remembered once it has :data:`LIMIT` results, and is then
evaluated as it would be without a memo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from idsync.expressions import Expressions, MissingValue
from idsync.reads import Read

__all__ = ["LIMIT", "Memo"]

LIMIT = 4096
"""Results remembered per rule or template at most."""

_GLOBAL = object()
"""A name the context does not give (the expression reads a global, the same every time)."""
_NO = object()
"""No key (a value that cannot be part of one), or no result remembered."""

_FIELDS: dict[type, frozenset[str]] = {}
"""Each model class's field names (pydantic's own ``model_fields`` is slow to reach)."""


def _fields(kind: type[BaseModel]) -> frozenset[str]:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = frozenset(kind.model_fields)
    return fields


def _value(context: Mapping[str, Any], read: Read) -> Any:
    """What ``read`` names in ``context``: a variable, or the field first read of it (_NO
    for an attribute that is not a model's field: a property reads more than the key holds)."""
    name, attribute = read
    value = context.get(name, _GLOBAL)
    if attribute is not None and isinstance(value, BaseModel):
        if attribute not in _fields(type(value)):
            return _NO
        return getattr(value, attribute)
    return value


def _part(value: Any) -> Any:
    """``value`` as part of a key: a model by its identity (an int), text and None as they
    are, anything else with its type (``1``, ``1.0`` and ``True`` stay apart, and no number
    is taken for an identity); _NO for what cannot be one (a list, a dict)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, BaseModel):
        return id(value)
    if value is _NO:
        return _NO
    try:
        hash(value)
    except TypeError:
        return _NO
    return (type(value), value)


class _Table:
    """One rule's or template's remembered results, by the values it read."""

    __slots__ = ("alive", "full", "limit", "reads", "results")

    def __init__(self, reads: tuple[Read, ...], limit: int) -> None:
        self.reads = reads
        self.limit = limit
        self.results: dict[Any, Any] = {}
        self.alive: list[BaseModel] = []
        """The models whose identities are keys: alive, so no other object takes one."""
        self.full = False

    def key(self, context: Mapping[str, Any]) -> Any:
        """The key for ``context``, or _NO."""
        reads = self.reads
        if len(reads) != 1:
            parts = tuple([_part(_value(context, read)) for read in reads])
            return _NO if _NO in parts else parts
        # One read (most rules): :func:`_value` and :func:`_part` inlined.
        name, attribute = reads[0]
        value = context.get(name, _GLOBAL)
        if isinstance(value, BaseModel):
            if attribute is not None:
                kind = type(value)
                if attribute not in (_FIELDS.get(kind) or _fields(kind)):
                    return _NO
                value = getattr(value, attribute)
                if value is None or type(value) is str:
                    return value
                if not isinstance(value, BaseModel):
                    return _part(value)
            return id(value)
        return _part(value)

    def store(self, key: Any, result: Any, context: Mapping[str, Any]) -> None:
        self.results[key] = result
        for read in self.reads:
            value = _value(context, read)
            if isinstance(value, BaseModel):
                self.alive.append(value)
        self.full = len(self.results) >= self.limit


class Memo:
    """Remembers what one pipeline's rules and templates gave, for one pass over persons
    that changes none of them (the models read are compared by identity)."""

    __slots__ = ("_expressions", "_limit", "_renders", "_strict", "_tests")

    def __init__(self, expressions: Expressions, limit: int = LIMIT) -> None:
        self._expressions = expressions
        self._limit = limit
        self._tests: dict[str, _Table | None] = {}
        self._renders: dict[str, _Table | None] = {}
        self._strict: dict[str, _Table | None] = {}

    def _table(self, tables: dict[str, _Table | None], source: str, rule: bool) -> _Table | None:
        try:
            return tables[source]
        except KeyError:
            reads = self._expressions.reads_of(source, rule=rule)
            table = tables[source] = None if reads is None else _Table(reads, self._limit)
            return table

    def test(self, source: str | None, context: Mapping[str, Any]) -> bool:
        """:meth:`Expressions.test`, remembered."""
        if source is None:
            return True
        try:
            table = self._tests[source]
        except KeyError:
            table = self._table(self._tests, source, True)
        if table is None or table.full:
            return self._expressions.test(source, context)
        key = table.key(context)
        if key is _NO:
            return self._expressions.test(source, context)
        result = table.results.get(key, _NO)
        if result is _NO:
            result = self._expressions.test(source, context)
            table.store(key, result, context)
        return result  # type: ignore[no-any-return]

    def render(self, value: Any, context: Mapping[str, Any], *, strict: bool = False) -> Any:
        """:meth:`Expressions.render`, remembered (a missing value as well: a strict render
        raises :class:`MissingValue` for it each time)."""
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        table = self._table(self._strict if strict else self._renders, value, False)
        if table is None or table.full:
            return self._expressions.render(value, context, strict=strict)
        key = table.key(context)
        if key is _NO:
            return self._expressions.render(value, context, strict=strict)
        known = table.results.get(key, _NO)
        if known is _NO:
            if strict:
                known = self._expressions.render_missed(value, context)
            else:
                known = (self._expressions.render(value, context), None)
            table.store(key, known, context)
        text, missed = known
        if missed is not None:
            raise MissingValue(f"template {value!r} prints {missed}, which is missing")
        return text
