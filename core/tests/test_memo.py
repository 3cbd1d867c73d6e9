"""Remembered results are the results: a rule or template is evaluated once per distinct set
of values it reads, gives what evaluating it anew gives, and is evaluated anew whenever what it
reads cannot be compared (a function call, a random value, a list)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from idsync.expressions import Expressions, MissingValue
from idsync.memo import Memo
from idsync.model import Person

TODAY = dt.date(2026, 1, 15)


def _person(pid: int, department: str | None, fte: float | None) -> Person:
    contract: dict[str, Any] = {"external_id": f"{pid}-1", "start": "2020-01-01", "fte": fte}
    if department is not None:
        contract["department"] = {"code": department, "name": f"Afdeling {department}"}
    return Person.model_validate(
        {
            "external_id": str(pid),
            "name": {"given": f"Given{pid}", "family": "Berg", "family_prefix": "van der"},
            "contracts": [contract],
        }
    )


PERSONS = [
    _person(n, department, fte)
    for n, (department, fte) in enumerate(
        [("ICT", 1.0), ("ICT", 0.5), ("HR", 1.0), (None, None), ("ICT", 1), ("HR", 0.8)] * 3
    )
]
# The references of equal departments shared, as an import shares them.
_SHARED: dict[str, Any] = {}
for _p in PERSONS:
    _c = _p.contracts[0]
    if _c.department is not None:
        _c.department = _SHARED.setdefault(_c.department.code or "", _c.department)


class Counting(Expressions):
    """Expressions that count how often each rule and template is evaluated."""

    def __init__(self, functions: Mapping[str, Any] | None = None) -> None:
        super().__init__(functions)
        self.evaluated: dict[str, int] = {}

    def test(self, source: str | None, context: Mapping[str, Any]) -> bool:
        self.evaluated[source or ""] = self.evaluated.get(source or "", 0) + 1
        return super().test(source, context)

    def render(self, value: Any, context: Mapping[str, Any], *, strict: bool = False) -> Any:
        self.evaluated[value] = self.evaluated.get(value, 0) + 1
        return super().render(value, context, strict=strict)

    def render_missed(self, value: str, context: Mapping[str, Any]) -> tuple[Any, str | None]:
        self.evaluated[value] = self.evaluated.get(value, 0) + 1
        return super().render_missed(value, context)


def _contexts() -> list[dict[str, Any]]:
    return [
        {"person": p, "contract": p.contracts[0], "as_of": TODAY, "suffix": ""} for p in PERSONS
    ]


RULES = [
    "contract.department.code == 'ICT'",
    "(contract.fte or 0) >= 0.8",
    "contract.department.code != 'EXT' and contract.fte == 1",
    "contract.department is none",
    "person.name.full_family == 'van der Berg'",
    "as_of.year == 2026",
]
TEMPLATES = [
    "group:department_{{ contract.department.code }}",
    "{{ contract.department.name }} ({{ contract.fte }})",
    "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}",
    "{{ contract.department.code | lower }}{{ missing_name }}",
]


@pytest.mark.parametrize("source", RULES)
def test_a_remembered_rule_gives_what_evaluating_it_gives(source: str) -> None:
    plain, memo = Expressions(), Memo(Expressions())
    for context in _contexts() * 2:
        assert memo.test(source, context) is plain.test(source, context)


@pytest.mark.parametrize("source", TEMPLATES)
@pytest.mark.parametrize("strict", [False, True])
def test_a_remembered_template_renders_what_rendering_it_renders(source: str, strict: bool) -> None:
    plain, memo = Expressions(), Memo(Expressions())
    for context in _contexts() * 2:
        try:
            expected: Any = plain.render(source, context, strict=strict)
        except MissingValue as exc:
            expected = str(exc)
        try:
            got: Any = memo.render(source, context, strict=strict)
        except MissingValue as exc:
            got = str(exc)
        assert got == expected


def test_a_rule_is_evaluated_once_per_distinct_value_it_reads() -> None:
    counting = Counting()
    memo = Memo(counting)
    for context in _contexts():
        memo.test("contract.department.code == 'ICT'", context)
        memo.test("(contract.fte or 0) >= 0.8", context)
    # Two shared departments and no department at all.
    assert counting.evaluated["contract.department.code == 'ICT'"] == 3
    # 1.0, 0.5, 0.8 and none: compared by value, not as the contracts' own objects.
    assert counting.evaluated["(contract.fte or 0) >= 0.8"] == 4


def test_a_missing_value_is_missing_each_time_it_is_remembered() -> None:
    counting = Counting()
    memo = Memo(counting)
    source = "group:department_{{ contract.department.code }}"
    blank = [c for c in _contexts() if c["contract"].department is None]
    for context in blank:
        with pytest.raises(MissingValue, match="department"):
            memo.render(source, context, strict=True)
    assert len(blank) == 3
    assert counting.evaluated[source] == 1


def test_values_read_that_cannot_be_compared_are_read_anew() -> None:
    counting = Counting({"double": lambda v: v * 2})
    memo = Memo(counting)
    calls = "{{ double(contract.external_id) }}"
    listed = "{{ person.contracts | length }}"
    randomly = "{{ [contract.department.code] | random }}"
    contexts = _contexts()
    for context in contexts:
        assert memo.render(calls, context) == counting.render(calls, context)
        assert memo.render(listed, context) == "1"
        memo.render(randomly, context)
    # Each remembered nothing: the memo's renders plus the comparison's own.
    assert counting.evaluated[calls] == 2 * len(contexts)
    assert counting.evaluated[listed] == len(contexts)
    assert counting.evaluated[randomly] == len(contexts)


def test_a_rule_reading_a_new_value_for_everyone_stops_being_remembered() -> None:
    counting = Counting()
    memo = Memo(counting, limit=5)
    source = "{{ person.name.given }}"
    contexts = _contexts()
    first = [memo.render(source, context) for context in contexts[:4] * 2]
    assert first == [f"Given{n}" for n in range(4)] * 2
    assert counting.evaluated[source] == 4  # remembered, and read back the second time
    rendered = [memo.render(source, context) for context in contexts]
    assert rendered == [f"Given{n}" for n in range(len(contexts))]
    # The first four read back again, the fifth remembered last, every later one rendered.
    assert counting.evaluated[source] == len(contexts)
    assert [memo.render(source, context) for context in contexts[:4]] == first[:4]
    assert counting.evaluated[source] == len(contexts) + 4  # full: nothing more is read back
