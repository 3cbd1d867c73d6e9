"""GetConnector query semantics: filters, ordering and paging as AFAS applies them.

``filterfieldids``, ``filtervalues`` and ``operatortypes`` are parallel lists: a comma joins
filters with AND, a semicolon separates OR groups. ``orderbyfieldids`` is a comma list, a
leading ``-`` sorts that field descending. Text compares case-insensitively (as AFAS's
database does); empty values sort first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Fault", "Query", "parse_query"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_UNEXPECTED = "Er is een onverwachte fout opgetreden."
_DEFAULT_TAKE = 100


@dataclass
class Fault(Exception):
    """An AFAS error answer: HTTP status, ``externalMessage`` and ``errorNumber``."""

    status: int
    message: str
    number: int = -2147467259

    def __str__(self) -> str:
        return self.message


def _as_date(value: str) -> dt.date | None:
    if not _DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _as_bool(value: str) -> bool | None:
    text = value.strip().lower()
    if text in ("true", "1", "ja", "j", "y"):
        return True
    if text in ("false", "0", "nee", "n"):
        return False
    return None


def _compare(have: Any, want: str) -> int | None:
    """-1/0/1 comparing a row value with a filter value, None when they cannot compare."""
    if have is None or have == "":
        return 0 if want == "" else -1
    if isinstance(have, bool):
        flag = _as_bool(want)
        return None if flag is None else (int(have) > int(flag)) - (int(have) < int(flag))
    if isinstance(have, int | float):
        try:
            number = float(want.replace(",", "."))
        except ValueError:
            return None
        return (have > number) - (have < number)
    text = str(have)
    left, right = _as_date(text), _as_date(want)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    a, b = text.casefold(), want.casefold()
    return (a > b) - (a < b)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def _empty(value: Any) -> bool:
    return value is None or value == ""


Test = Callable[[Any, str], bool]


def _ordered(accept: Callable[[int], bool]) -> Test:
    """A comparison operator: empty row values never pass."""

    def test(value: Any, wanted: str) -> bool:
        if _empty(value):
            return False
        result = _compare(value, wanted)
        return result is not None and accept(result)

    return test


_OPERATORS: dict[int, Test] = {
    1: lambda v, w: _compare(v, w) == 0,
    2: _ordered(lambda c: c >= 0),
    3: _ordered(lambda c: c <= 0),
    4: _ordered(lambda c: c > 0),
    5: _ordered(lambda c: c < 0),
    6: lambda v, w: w.casefold() in _text(v),
    7: lambda v, w: _compare(v, w) != 0,
    8: lambda v, w: _empty(v),
    9: lambda v, w: not _empty(v),
    10: lambda v, w: _text(v).startswith(w.casefold()),
    11: lambda v, w: w.casefold() not in _text(v),
    12: lambda v, w: not _text(v).startswith(w.casefold()),
    13: lambda v, w: _text(v).endswith(w.casefold()),
    14: lambda v, w: not _text(v).endswith(w.casefold()),
}
"""AFAS ``operatortypes``: 1 =, 2 >=, 3 <=, 4 >, 5 <, 6 contains, 7 not equal, 8 empty,
9 not empty, 10 starts with, 11 not contains, 12 not starts with, 13 ends with, 14 not ends
with."""


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (2, str(value).casefold())


def _by(field: str) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    def key(row: Mapping[str, Any]) -> tuple[int, Any]:
        return _sort_key(row.get(field))

    return key


@dataclass
class Query:
    """A parsed GetConnector query."""

    skip: int = 0
    take: int = _DEFAULT_TAKE
    order: Sequence[tuple[str, bool]] = ()
    """``(field, descending)`` pairs."""
    groups: Sequence[Sequence[tuple[str, int, str]]] = ()
    """OR of AND groups of ``(field, operator, value)``."""

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Whether the row passes the filters."""
        if not self.groups:
            return True
        return any(
            all(_OPERATORS[op](row.get(field), value) for field, op, value in group)
            for group in self.groups
        )

    def apply(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter, order and page ``rows``."""
        return self.page(self.select(rows))

    def select(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter and order ``rows`` (every page of the query)."""
        selected = [row for row in rows if self.matches(row)]
        for field, descending in reversed(self.order):
            selected.sort(key=_by(field), reverse=descending)
        return selected

    def page(self, selected: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The page ``skip``/``take`` asks for of the selected rows."""
        return selected[self.skip : self.skip + self.take]

    def selection(self) -> tuple[Any, ...]:
        """What the selection depends on: the same for every page of one query."""
        return (tuple(self.order), tuple(tuple(group) for group in self.groups))


def _number(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Fault(500, _UNEXPECTED) from None
    if value < 0:
        raise Fault(500, _UNEXPECTED)
    return value


def _field(name: str, fields: Sequence[str]) -> str:
    if name not in fields:
        raise Fault(500, f"Connector-veld '{name}' niet gevonden.", -2147024809)
    return name


def parse_query(params: Mapping[str, str], fields: Sequence[str]) -> Query:
    """Parse the query parameters of a GetConnector call; raises :class:`Fault` as AFAS does."""
    query = Query(skip=_number(params, "skip", 0), take=_number(params, "take", _DEFAULT_TAKE))
    order = []
    for item in filter(None, (params.get("orderbyfieldids") or "").split(",")):
        name = item.strip()
        descending = name.startswith("-")
        order.append((_field(name.lstrip("-"), fields), descending))
    query.order = order
    ids, values, ops = (params.get(k) for k in ("filterfieldids", "filtervalues", "operatortypes"))
    if ids:
        id_groups = ids.split(";")
        value_groups = (values or "").split(";")
        op_groups = (ops or "").split(";")
        if not (len(id_groups) == len(value_groups) == len(op_groups)):
            raise Fault(500, _UNEXPECTED)
        groups = []
        for id_group, value_group, op_group in zip(id_groups, value_groups, op_groups, strict=True):
            names, wanted, codes = id_group.split(","), value_group.split(","), op_group.split(",")
            if not (len(names) == len(wanted) == len(codes)):
                raise Fault(500, _UNEXPECTED)
            group = []
            for name, value, code in zip(names, wanted, codes, strict=True):
                try:
                    op = int(code)
                except ValueError:
                    raise Fault(500, _UNEXPECTED) from None
                if op not in _OPERATORS:
                    raise Fault(500, f"Operatortype '{code}' wordt niet ondersteund.")
                group.append((_field(name.strip(), fields), op, value))
            groups.append(group)
        query.groups = groups
    return query
