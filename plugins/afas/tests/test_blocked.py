"""Rows that cannot become a valid person are blocked with the employee number, field and reason."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Afas, Kit


def test_every_bad_row_is_blocked_with_its_afas_field_and_reason(afas: Afas) -> None:
    persons, blocked = afas.read()
    found = {b.person: (b.field, b.problem) for b in blocked}
    assert found == {
        "2001": ("Geboortenaam", "is empty: a person needs a (birth) family name"),
        "2002": (
            "Einddatum_functie",
            "employment 2002-1: ends 2020-01-01, before it starts 2020-02-01",
        ),
        "2003": ("Begindatum_functie", "employment 2003-1: '2025-02-30' is not a date"),
        "2004": ("ExternalID", "contract 2004-1 appears twice"),
        "2005": ("DisplayName", "contains control characters"),
        "2006": (
            "FTE",
            "contract 2006-1: Input should be less than or equal to 10 (AFAS value 80.0)",
        ),
        "2007": ("Begindatum_functie", "employment 2007-1: has no start date"),
        "2008": ("Naamgebruik_code", "'X' is not a naming convention code (0 B, 1 PB, 2 P, 3 BP)"),
        "row 1 of T4E_HelloID_Users_v2": ("Medewerker", "is empty (no employee number)"),
    }
    assert all(str(b).startswith(f"person {b.person}: {b.field}: ") for b in blocked)
    # the good persons all came through
    assert {"1001", "1002", "1003", "1004", "1005", "1006", "1007", "1010"} == set(persons)


def test_afas_only_problems(afas: Afas) -> None:
    data = afas.sim.data
    with data.lock:
        twin = copy.deepcopy(data.employee("1001"))
        assert twin is not None
        data.people.append(twin)  # the same employee number twice
        employment = next(e for e in data.employments if e["Medewerker"] == "1002")
        employment["FTE"] = "veel"  # not a number
        position = next(p for p in data.positions if p["ExternalID"] == "P3")
        position["ExternalID"] = None
        employment = next(e for e in data.employments if e["Medewerker"] == "1010")
        employment["ExternalID"] = ""
        data.changed()
    persons, blocked = afas.read()
    found = {(b.person, b.field): b.problem for b in blocked}
    assert found[("1001", "Medewerker")] == "appears twice in T4E_HelloID_Users_v2"
    assert found[("1002", "FTE")] == "employment 1002-1: 'veel' is not a number"
    assert found[("1005", "ExternalID")] == "a position of employment E2 has no ExternalID"
    assert ("1010", "ExternalID") in found
    assert "1001" in persons  # the first row of a duplicated number still counts
    assert "1002" not in persons


def test_dates_in_other_afas_shapes_are_read(afas: Afas) -> None:
    data = afas.sim.data
    with data.lock:
        row = next(p for p in data.positions if p["ExternalID"] == "P1")
        row["Begindatum_functie"] = "2025-05-06T00:00:00"
        row = next(p for p in data.positions if p["ExternalID"] == "P2")
        row["Begindatum_functie"] = "2025-08-14"
        data.changed()
    persons, _ = afas.read()
    starts = {c.external_id: c.start.isoformat() for c in persons["1005"].contracts}
    assert starts["P1~E1"] == "2025-05-06"
    assert starts["P2~E1"] == "2025-08-14"


def test_contract_and_function_dates_are_checked_per_row(afas: Afas, kit: type[Kit]) -> None:
    """A contract that ends before it starts is not read as a leaver by pairing its end with
    the function's start; a function outside its contract shares no day with it."""
    data = afas.sim.data

    days = kit.days
    with data.lock:
        employment = next(e for e in data.employments if e["Medewerker"] == "1002")
        employment.update(
            Begindatum_functie="2019-01-01",
            Einddatum_functie=None,
            Begindatum_contract="2025-03-01",
            Einddatum_contract="2025-01-31",  # a year typo: 2026-01-31 was meant
        )
        employment = next(e for e in data.employments if e["Medewerker"] == "1003")
        employment.update(
            Begindatum_functie=days(-400).isoformat(),
            Einddatum_functie=days(-40).isoformat(),
            Begindatum_contract=days(-30).isoformat(),
            Einddatum_contract=None,
        )
        employment = next(e for e in data.employments if e["Medewerker"] == "1004")
        employment.update(
            Begindatum_functie="2021-04-01",
            Einddatum_functie=None,
            Begindatum_contract="2021-01-01",
            Einddatum_contract="2030-06-30",
        )
        data.changed()
    persons, blocked = afas.read()
    found = {b.person: (b.field, b.problem) for b in blocked}
    assert found["1002"] == (
        "Einddatum_contract",
        "employment 1002-1: ends 2025-01-31, before it starts 2025-03-01",
    )
    assert found["1003"][0] == "Einddatum_functie"
    assert "share no day" in found["1003"][1]
    [contract] = persons["1004"].contracts  # the function, within its contract
    assert (contract.start.isoformat(), contract.end.isoformat()) == ("2021-04-01", "2030-06-30")
