"""The source: persons, contracts, managers and departments read over HTTP from the simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from idsync import Blocked
from idsync.sandbox.world import World

if TYPE_CHECKING:
    from conftest import Afas, Kit


def test_two_employments_three_positions_become_three_contracts(afas: Afas, kit: type[Kit]) -> None:
    persons, _ = afas.read()
    sanne = persons["1005"]
    contracts = {c.external_id: c for c in sanne.contracts}
    assert set(contracts) == {"P1~E1", "P2~E1", "P3~E2"}
    # department, title and manager come from the position; FTE from its employment
    assert contracts["P1~E1"].department is not None
    assert contracts["P1~E1"].department.external_id == "DEV"
    assert contracts["P2~E1"].department is not None
    assert contracts["P2~E1"].department.name == "Personeelszaken"
    assert contracts["P3~E2"].department is not None
    assert contracts["P3~E2"].department.code == "ICT"
    assert [contracts[c].fte for c in ("P1~E1", "P2~E1", "P3~E2")] == [0.6, 0.6, 0.4]
    assert {k: c.manager.external_id for k, c in contracts.items() if c.manager} == {
        "P1~E1": "1003",
        "P2~E1": "1004",
        "P3~E2": "1002",
    }
    assert contracts["P2~E1"].start == kit.days(-200)
    assert contracts["P2~E1"].end == kit.days(100)
    # the primary contract at the as-of date decides the person's manager (highest FTE, earliest)
    assert sanne.manager is not None
    assert sanne.manager.external_id == "1003"


def test_employments_only_mode_gives_one_contract_per_employment(
    afas: Afas, kit: type[Kit]
) -> None:
    persons, _ = afas.read(positions_mode="employments_only")
    contracts = {c.external_id: c for c in persons["1005"].contracts}
    assert set(contracts) == {"E1", "E2"}
    assert contracts["E1"].start == kit.days(-300)
    assert contracts["E1"].end is None  # P1 is open-ended, so E1 is
    assert contracts["E2"].fte == 0.4
    assert not any(r.path.endswith("T4E_HelloID_Positions_v2") for r in afas.log.all()), (
        "positions are not read in employments-only mode"
    )


def test_employment_without_positions_is_its_own_contract(afas: Afas) -> None:
    persons, _ = afas.read()
    assert [c.external_id for c in persons["1002"].contracts] == ["1002-1"]


def test_future_and_ended_contracts_within_the_window(afas: Afas, kit: type[Kit]) -> None:
    persons, _ = afas.read()
    joiner = persons["1006"].contracts[0]
    assert joiner.start == kit.days(30)
    assert not joiner.active_at(kit.TODAY)
    assert joiner.active_at(kit.days(30))
    leaver = persons["1007"].contracts[0]
    assert leaver.end == kit.days(-21)
    assert not leaver.active_at(kit.TODAY)
    assert leaver.active_at(kit.days(-21))
    # outside the standard connectors' ±3 months window: not listed at all
    assert "1008" not in persons
    assert "1009" not in persons


def test_manager_chain(afas: Afas) -> None:
    persons, _ = afas.read()
    chain = []
    current: str | None = "1003"
    while current is not None:
        chain.append(current)
        manager = persons[current].manager
        current = manager.external_id if manager else None
    assert chain == ["1003", "1002", "1001"]
    manager = persons["1003"].contracts[0].manager
    assert manager is not None
    assert manager.display_name == "Jan van der Berg-Jansen"


def test_department_tree_and_manager_of(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    departments = {d["external_id"]: d for d in plugin.idsync_departments(kit.ctx())}
    assert {k: d["parent"] for k, d in departments.items()} == {
        "ORG": None,
        "ICT": "ORG",
        "DEV": "ICT",
        "HR": "ORG",
    }
    assert departments["DEV"] == {
        "external_id": "DEV",
        "name": "Ontwikkeling",
        "code": "DEV",
        "parent": "ICT",
        "manager": "1003",
    }
    persons, _ = afas.read()
    assert persons["1001"].extra["ManagerOf"] == ["ORG"]
    assert persons["1003"].extra["ManagerOf"] == ["DEV"]
    assert persons["1005"].extra["ManagerOf"] == []
    # walking up from a contract's department reaches the root
    unit: str | None = persons["1005"].contracts[0].department.external_id  # type: ignore[union-attr]
    path = []
    while unit is not None:
        path.append(unit)
        unit = departments[unit]["parent"]
    assert path == ["DEV", "ICT", "ORG"]


def test_dutch_names_prefixes_diacritics_and_conventions(afas: Afas) -> None:
    persons, _ = afas.read()
    anna, jan, emile, zoe, ruud = (persons[n] for n in ("1001", "1002", "1003", "1004", "1010"))
    assert (anna.name.family_prefix, anna.name.convention, anna.name.full_family) == (
        "de",
        "B",
        "de Vries",
    )
    assert (jan.name.family_prefix, jan.name.nick, jan.name.given) == ("van der", "Jan", "Johannes")
    assert (jan.name.convention, jan.name.full_family) == ("BP", "van der Berg-Jansen")
    assert emile.name.family_prefix == "'t"
    assert (emile.name.convention, emile.name.full_family) == ("PB", "de Bakker-'t Hart")
    assert emile.name.given == "Émile"
    assert emile.display_name == "Émile de Bakker-'t Hart"
    assert (zoe.name.convention, zoe.name.full_family, zoe.name.initials) == (
        "P",
        "van Çelik",
        "Z.",
    )
    assert zoe.display_name == "Zoë van Çelik"
    assert ruud.name.birth_family == "van 't Hoek"
    assert jan.contact.email == "1002@voorbeeld.nl"
    assert jan.contact.phone == "+31 30 123 4567"
    assert persons["1005"].contact.email is None
    assert jan.extra["Persoonsnummer"] == "P1002"
    assert jan.extra["Gebruiker"] == "12345.1002"


def test_naming_convention_codes_on_the_wire(afas: Afas) -> None:
    rows = afas.get("T4E_HelloID_Users_v2", take=100, orderbyfieldids="Medewerker").json()["rows"]
    codes = {r["Medewerker"]: r["Naamgebruik_code"] for r in rows}
    assert (codes["1001"], codes["1002"], codes["1003"], codes["1004"]) == ("0", "3", "1", "2")
    row = next(r for r in rows if r["Medewerker"] == "1003")
    assert (row["Voorvoegsel"], row["Geboortenaam"], row["Voorvoegsel_partner"]) == (
        "'t",
        "Hart",
        "de",
    )


def test_world_round_trips_through_afas(afas: Afas, world: World) -> None:
    """Every person of the world comes back as it went in (within the connectors' window)."""
    persons, _ = afas.read()
    for expected in world.persons:
        if expected.external_id in ("1008", "1009"):
            continue
        got = persons[expected.external_id]
        assert got.name == expected.name
        assert got.display_name == expected.display_name
        assert got.contact == expected.contact
        want = sorted(expected.contracts, key=lambda c: c.external_id)
        have = sorted(got.contracts, key=lambda c: c.external_id)
        for a, b in zip(want, have, strict=True):
            assert b.model_dump(exclude={"manager"}) == a.model_dump(exclude={"manager"})
            assert (b.manager.external_id if b.manager else None) == (
                a.manager.external_id if a.manager else None
            )


def test_paging_across_many_pages(start_afas: Callable[..., Afas], kit: type[Kit]) -> None:
    size = 61
    persons = [
        kit.person(
            f"{3000 + i}",
            {"given": f"P{i}", "family": "Paging"},
            [kit.contract(f"C{i}", "HR", None)],
        )
        for i in range(size)
    ]
    afas = start_afas(World(seed=0, today=kit.TODAY, persons=persons))
    got, blocked = afas.read(page_size=7)
    assert not blocked
    assert sorted(got) == sorted(p.external_id for p in persons)
    users = [r for r in afas.log.all() if r.path.endswith("T4E_HelloID_Users_v2")]
    queries = [parse_qs(r.query) for r in users]
    assert len(users) == 9  # 8 full pages of 7, then a short page of 5
    assert [int(q["skip"][0]) for q in queries] == [7 * i for i in range(9)]
    assert {q["take"][0] for q in queries} == {"7"}
    assert {q["orderbyfieldids"][0] for q in queries} == {"Medewerker"}
    employments = [parse_qs(r.query) for r in afas.log.all() if "Employments" in r.path]
    assert employments[0]["orderbyfieldids"] == ["ExternalID,Medewerker,Begindatum_functie"]


def test_paging_stops_after_an_empty_page_when_rows_fill_the_last_page(
    start_afas: Callable[..., Afas], kit: type[Kit]
) -> None:
    persons = [
        kit.person(
            f"{4000 + i}", {"given": "X", "family": "Even"}, [kit.contract(f"D{i}", "HR", None)]
        )
        for i in range(10)
    ]
    afas = start_afas(World(seed=0, today=kit.TODAY, persons=persons))
    got, _ = afas.read(page_size=5)
    assert len(got) == 10
    users = [r for r in afas.log.all() if r.path.endswith("T4E_HelloID_Users_v2")]
    assert [parse_qs(r.query)["skip"][0] for r in users] == ["0", "5", "10"]


def test_persons_are_streamed(afas: Afas, kit: type[Kit]) -> None:
    """The first person arrives before the Users connector has been read to the end."""
    stream = afas.plugin(page_size=2).idsync_persons(kit.ctx())
    first = next(iter(stream))
    assert not isinstance(first, Blocked) or first.field == "Medewerker"
    users = [r for r in afas.log.all() if r.path.endswith("T4E_HelloID_Users_v2")]
    assert len(users) == 1


def test_person_without_contract_in_window_is_left_out_or_kept(
    start_afas: Callable[..., Afas], kit: type[Kit]
) -> None:
    person = kit.person(
        "5001", {"given": "Kees", "family": "Klaassen"}, [kit.contract("K-1", "HR", None)]
    )
    afas = start_afas(World(seed=0, today=kit.TODAY, persons=[person]))
    afas.sim.data.employments[0]["Soort_medewerker_code"] = "N"  # hidden by the connector's filter
    afas.sim.data.people[0]["_listed"] = True
    afas.sim.data.changed()
    got, _ = afas.read()
    assert got == {}
    got, _ = afas.read(exclude_persons_without_contracts=False)
    assert got["5001"].contracts == []


def test_self_manager_is_dropped(start_afas: Callable[..., Afas], kit: type[Kit]) -> None:
    person = kit.person(
        "6001", {"given": "Ida", "family": "Eigen"}, [kit.contract("I-1", "HR", "6001")]
    )
    afas = start_afas(World(seed=0, today=kit.TODAY, persons=[person]))
    got, _ = afas.read()
    assert got["6001"].contracts[0].manager is None
    assert got["6001"].manager is None


def test_dates_as_afas_writes_them(afas: Afas, kit: type[Kit]) -> None:
    rows = afas.get("T4E_HelloID_Positions_v2", take=50, orderbyfieldids="ExternalID").json()[
        "rows"
    ]
    row = next(r for r in rows if r["ExternalID"] == "P2")
    assert row["Begindatum_functie"] == f"{kit.days(-200).isoformat()}T00:00:00Z"
    assert row["EmploymentExternalID"] == "E1"
    assert dt.date.fromisoformat(row["Einddatum_functie"][:10]) == kit.days(100)
