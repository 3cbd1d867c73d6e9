"""TOPdesk as a source: persons in both paging forms, archived as inactive, departments."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from idsync import ApiError, Blocked, Department, HookContext, Person
from idsync.sandbox.simulator import serve
from idsync_topdesk import TopdeskPlugin, TopdeskSettings
from idsync_topdesk.simulator import TopdeskSimulator

Seed = Callable[..., dict[str, Any]]


def ctx() -> HookContext:
    return HookContext(system="topdesk")


def _people(rows: list[Any]) -> dict[str, Person]:
    return {
        p.external_id: p for p in (Person.model_validate(r) for r in rows if isinstance(r, dict))
    }


def _populate(seed: Seed, sim: TopdeskSimulator) -> dict[str, Any]:
    boss = seed(
        "100",
        surName="Vries",
        prefixes="de",
        firstName="Anna",
        firstInitials="A.",
        email="a.devries@example.org",
        jobTitle="Directeur",
        department="Personeelszaken",
        budget_holder="Kostenplaats 100",
        isManager=True,
    )
    for n in range(101, 105):
        seed(str(n), manager=boss["id"], department="ICT", branch="Utrecht")
    seed("105", archived=True)
    return boss


@pytest.mark.parametrize("paging", ["v2", "classic"])
def test_persons_are_read_in_pages_and_mapped(
    paging: str, make_plugin: Callable[..., Any], seed: Seed, sim: TopdeskSimulator
) -> None:
    _populate(seed, sim)
    plugin = make_plugin(paging=paging, page_size=2)
    persons = _people(list(plugin.idsync_persons(ctx=ctx())))

    assert sorted(persons) == [str(n) for n in range(100, 106)]
    boss = persons["100"]
    assert boss.display_name == "Anna de Vries"
    assert (boss.name.given, boss.name.initials, boss.name.family, boss.name.family_prefix) == (
        "Anna",
        "A.",
        "Vries",
        "de",
    )
    assert boss.contact.email == "a.devries@example.org"
    assert boss.extra["isManager"] is True
    (contract,) = boss.contracts
    assert contract.title is not None
    assert contract.title.name == "Directeur"
    assert contract.department is not None
    assert contract.department.name == "Personeelszaken"
    assert contract.cost_center is not None
    assert contract.cost_center.name == "Kostenplaats 100"
    assert contract.location is not None
    assert contract.location.name == "Baarn"
    assert contract.start == dt.datetime.now(dt.UTC).date()
    report = persons["103"]
    assert report.manager is not None
    assert report.manager.external_id == "100"
    assert report.manager.display_name == "Anna de Vries"
    assert report.contracts[0].manager == report.manager
    assert report.contracts[0].location is not None
    assert report.contracts[0].location.name == "Utrecht"
    assert persons["105"].inactive
    assert not report.inactive

    reads = [r for r in sim.app.log.all() if r.path == "/tas/api/persons"]
    queries = [parse_qs(r.query) for r in reads]
    if paging == "v2":
        # 5 active persons in pages of 2, then the archived one: follows every next link
        assert [q["pageStart"] for q in queries] == [["0"], ["2"], ["4"], ["0"]]
        assert all("fields" in q for q in queries)
        assert [r.status for r in reads] == [200] * 4
    else:
        assert [q["start"] for q in queries] == [["0"], ["2"], ["4"], ["0"]]
        assert [r.status for r in reads] == [206, 206, 200, 200]
    assert [q["query"] for q in queries] == [["archived==false"]] * 3 + [["archived==true"]]


def test_archived_persons_can_be_left_out(
    make_plugin: Callable[..., Any], seed: Seed, sim: TopdeskSimulator
) -> None:
    _populate(seed, sim)
    persons = _people(list(make_plugin(include_archived=False).idsync_persons(ctx=ctx())))
    assert "105" not in persons
    assert len(persons) == 5


def test_rows_without_an_identity_or_surname_are_blocked(
    plugin: Any, seed: Seed, sim: TopdeskSimulator
) -> None:
    seed("1")
    nobody = sim.store.seed_person(branch="Baarn", surName="Extern")
    seed("2", surName="")
    rows = list(plugin.idsync_persons(ctx=ctx()))
    blocked = [r for r in rows if isinstance(r, Blocked)]
    assert sorted((b.field, b.person) for b in blocked) == [
        ("employeeNumber", f"TOPdesk person {nobody['id']}"),
        ("surName", "2"),
    ]
    assert list(_people(rows)) == ["1"]


def test_a_rehire_with_an_archived_twin_yields_the_active_person(plugin: Any, seed: Seed) -> None:
    seed("7", archived=True, jobTitle="Oud")
    current = seed("7", jobTitle="Nieuw")
    seed("8")
    seed("8")
    rows = list(plugin.idsync_persons(ctx=ctx()))
    persons = _people(rows)
    assert persons["7"].extra["id"] == current["id"]
    assert not persons["7"].inactive
    (blocked,) = [r for r in rows if isinstance(r, Blocked)]
    assert blocked.person == "8"
    assert "2 persons" in blocked.problem


def test_the_topdesk_id_can_be_the_external_id(make_plugin: Any, seed: Seed) -> None:
    nobody = seed("", surName="Extern")
    persons = _people(list(make_plugin(external_id="id").idsync_persons(ctx=ctx())))
    assert list(persons) == [nobody["id"]]


def test_contract_dates_come_from_the_contract_endpoint(
    make_plugin: Callable[..., Any], seed: Seed, sim: TopdeskSimulator
) -> None:
    seed(
        "1",
        contract={
            "hireDate": "2019-03-01T00:00:00.000+0000",
            "employmentTerminationDate": "2025-02-28T00:00:00.000+0000",
        },
    )
    seed("2")
    persons = _people(list(make_plugin(contract_dates=True).idsync_persons(ctx=ctx())))
    assert persons["1"].contracts[0].start == dt.date(2019, 3, 1)
    assert persons["1"].contracts[0].end == dt.date(2025, 2, 28)
    assert persons["2"].contracts[0].end is None
    contract_reads = [r for r in sim.app.log.all() if r.path.endswith("/contract")]
    assert len(contract_reads) == 2


def test_branches_and_departments_are_departments(plugin: Any, sim: TopdeskSimulator) -> None:
    departments = list(plugin.idsync_departments(ctx=ctx()))
    assert all(isinstance(d, Department) for d in departments)
    assert sorted(d.name for d in departments) == ["Baarn", "ICT", "Personeelszaken", "Utrecht"]
    baarn = sim.store.find("branches", "Baarn")
    assert baarn is not None
    assert any(d.external_id == baarn["id"] for d in departments)


def test_a_next_link_to_another_host_is_not_followed() -> None:
    """Following it would send the credentials elsewhere; the read fails instead."""
    seen: list[str] = []

    async def vendor(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        body = json.dumps(
            {
                "item": [{"id": "1", "surName": "A", "employeeNumber": "1", "archived": False}],
                "next": "https://elsewhere.example/tas/api/persons?pageStart=1&pageSize=1",
            }
        ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with serve(vendor) as server:
        plugin = TopdeskPlugin(
            settings=TopdeskSettings(base_url=server.url, username="u", password="p", retries=0)
        )
        with pytest.raises(ApiError, match="another host"):
            list(plugin.idsync_persons(ctx=ctx()))
    assert seen == ["/tas/api/persons"]


def test_default_settings_read_a_v2_collection_that_refuses_gender(
    plugin: Any, seed: Seed, sim: TopdeskSimulator
) -> None:
    seed("1", gender="FEMALE", archived=True)
    seed("2", gender="MALE")
    persons = _people(list(plugin.idsync_persons(ctx=ctx())))
    accounts = list(plugin.idsync_accounts(ctx=ctx()))
    assert sorted(persons) == ["1", "2"]
    assert persons["1"].inactive
    assert persons["2"].extra["gender"] is None  # the v2 collection does not serve it
    assert sorted(a.data["employeeNumber"] for a in accounts) == ["1", "2"]
    assert all("gender" not in a.data for a in accounts)  # absent, so never taken for drift
    requests = sim.app.log.all()
    assert requests
    assert all(r.status == 200 for r in requests)
    assert all("pageStart" in parse_qs(r.query) for r in requests)
