"""Several sources merge into one person set by external id, the first source listed winning."""

from __future__ import annotations

import datetime as dt

from idsync.importer import SourceImport, merge
from idsync.model import Contract, Department, Name, Person


def _person(pid: str, family: str, *contracts: str, extra: dict[str, str] | None = None) -> Person:
    return Person(
        external_id=pid,
        name=Name(family=family),
        contracts=[Contract(external_id=c, start=dt.date(2024, 1, 1)) for c in contracts],
        extra=extra or {},
    )


def test_first_source_wins_fields_and_contracts_are_united() -> None:
    hr = SourceImport(
        source="hr",
        persons={
            "1": _person("1", "Jansen", "A", extra={"site": "hr"}),
            "2": _person("2", "Bos", "B"),
        },
        departments={"D": Department(external_id="D", name="From HR")},
    )
    desk = SourceImport(
        source="desk",
        persons={
            "1": _person("1", "Janssen", "A", "X", extra={"site": "desk", "room": "12"}),
            "3": _person("3", "Kok", "C"),
        },
        departments={
            "D": Department(external_id="D", name="From desk"),
            "E": Department(external_id="E", name="Only desk"),
        },
    )
    persons, departments = merge([hr, desk])
    assert sorted(persons) == ["1", "2", "3"]
    assert persons["1"].name.family == "Jansen"  # HR is listed first: its fields win
    assert [c.external_id for c in persons["1"].contracts] == ["A", "X"]  # contracts united
    assert persons["1"].extra == {"site": "hr", "room": "12"}
    assert departments["D"].name == "From HR"
    assert departments["E"].name == "Only desk"
    assert hr.persons["1"].contracts[-1].external_id == "A"  # the sources are not changed


def test_one_source_is_taken_as_it_is() -> None:
    hr = SourceImport(source="hr", persons={"1": _person("1", "Jansen", "A")})
    persons, _ = merge([hr])
    assert persons["1"].name.family == "Jansen"
