"""Rows that cannot become a valid person are blocked with the employee number, field and reason."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Afas


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
