"""Fixtures: a hand-built organisation served by the AFAS simulator over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from idsync import Blocked, Department, HookContext, Person
from idsync.sandbox.simulator import RequestLog, serve
from idsync.sandbox.world import World
from idsync_afas import AfasPlugin, AfasSettings, afas_token_header
from idsync_afas.simulator import AfasSimulator, from_world

TODAY = dt.date(2026, 3, 2)
TOKEN = "<token><version>1</version><data>0123456789ABCDEF0123456789ABCDEF</data></token>"


def days(n: int) -> dt.date:
    """``TODAY`` shifted by ``n`` days."""
    return TODAY + dt.timedelta(days=n)


def _contract(
    contract_id: str,
    department: str,
    manager: str | None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    fte: float = 1.0,
    title: tuple[str, str] = ("MDW", "Medewerker"),
) -> dict[str, Any]:
    names = {"ORG": "Organisatie", "ICT": "ICT", "DEV": "Ontwikkeling", "HR": "Personeelszaken"}
    return {
        "external_id": contract_id,
        "start": start or days(-400),
        "end": end,
        "department": {"external_id": department, "code": department, "name": names[department]},
        "title": {"external_id": title[0], "code": title[0], "name": title[1]},
        "cost_center": {
            "external_id": f"KP-{department}",
            "code": f"KP-{department}",
            "name": names[department],
        },
        "employer": {"external_id": "01", "code": "01", "name": "Gemeente Voorbeeld"},
        "manager": {"external_id": manager} if manager else None,
        "type": {"external_id": "VAST", "code": "VAST", "name": "Vast dienstverband"},
        "fte": fte,
        "hours_per_week": round(fte * 36, 2),
        "sequence": 1,
    }


def _person(
    number: str, name: dict[str, Any], contracts: list[dict[str, Any]], **more: Any
) -> Person:
    return Person.model_validate(
        {
            "external_id": number,
            "name": name,
            "contact": {"email": f"{number}@voorbeeld.nl", "phone": "+31 30 123 4567"},
            "contracts": contracts,
            **more,
        }
    )


def bad_rows() -> list[dict[str, Any]]:
    """One person-shaped row per kind of broken HR data, as the sandbox world has them."""
    base = _person("0", {"given": "Bert", "family": "Bad"}, [_contract("X-1", "HR", "1004")])

    def row(number: str, problem: str) -> dict[str, Any]:
        data = base.model_dump(mode="json")
        data["external_id"] = number
        data["display_name"] = "Bert Bad"
        data["contracts"][0]["external_id"] = f"{number}-1"
        data["_problem"] = problem
        return data

    rows = []
    missing_family = row("2001", "missing family name")
    missing_family["name"]["family"] = ""
    rows.append(missing_family)
    end_before_start = row("2002", "end before start")
    end_before_start["contracts"][0]["end"] = "2020-01-01"
    end_before_start["contracts"][0]["start"] = "2020-02-01"
    rows.append(end_before_start)
    impossible = row("2003", "impossible date")
    impossible["contracts"][0]["start"] = "2025-02-30"
    rows.append(impossible)
    duplicate = row("2004", "duplicate contract id")
    duplicate["contracts"].append(dict(duplicate["contracts"][0], fte=0.2))
    rows.append(duplicate)
    control = row("2005", "control character")
    control["display_name"] = "Bert\x0bBad"
    rows.append(control)
    percentage = row("2006", "fte as a percentage")
    percentage["contracts"][0]["fte"] = 80.0
    rows.append(percentage)
    no_start = row("2007", "missing start")
    no_start["contracts"][0]["start"] = None
    rows.append(no_start)
    convention = row("2008", "unknown naming convention")
    convention["name"]["convention"] = "X"
    rows.append(convention)
    no_number = row("", "no employee number")
    no_number["contracts"][0]["external_id"] = "anon-1"
    rows.append(no_number)
    return rows


def make_world() -> World:
    """A small organisation with every case the source must get right.

    1001 directs ORG, 1002 manages ICT, 1003 manages DEV (under ICT), 1004 manages HR.
    1005 has two employments (E1 with positions P1 and P2, E2 with P3). 1006 starts in a month,
    1007 left three weeks ago, 1008 left long ago and 1009 starts in four months (both outside
    the connectors' window).
    """
    departments = [
        Department(external_id="ORG", name="Organisatie", code="ORG", manager="1001"),
        Department(external_id="ICT", name="ICT", code="ICT", parent="ORG", manager="1002"),
        Department(
            external_id="DEV", name="Ontwikkeling", code="DEV", parent="ICT", manager="1003"
        ),
        Department(
            external_id="HR", name="Personeelszaken", code="HR", parent="ORG", manager="1004"
        ),
    ]
    persons = [
        _person(
            "1001",
            {
                "given": "Anna",
                "nick": "Anna",
                "initials": "A.",
                "family": "Vries",
                "family_prefix": "de",
                "convention": "B",
            },
            [_contract("1001-1", "ORG", None, title=("DIR", "Directeur"))],
        ),
        _person(
            "1002",
            {
                "given": "Johannes",
                "nick": "Jan",
                "initials": "J.",
                "family": "Berg",
                "family_prefix": "van der",
                "partner": "Jansen",
                "convention": "BP",
            },
            [_contract("1002-1", "ICT", "1001", title=("MGR", "Manager ICT"))],
        ),
        _person(
            "1003",
            {
                "given": "Émile",
                "nick": "Émile",
                "initials": "É.",
                "family": "Hart",
                "family_prefix": "'t",
                "partner": "Bakker",
                "partner_prefix": "de",
                "convention": "PB",
            },
            [_contract("1003-1", "DEV", "1002")],
        ),
        _person(
            "1004",
            {
                "given": "Zoë",
                "initials": "Z.",
                "family": "Dijkstra",
                "partner": "Çelik",
                "partner_prefix": "van",
                "convention": "P",
            },
            [_contract("1004-1", "HR", "1001")],
        ),
        _person(
            "1005",
            {"given": "Sanne", "family": "Bos"},
            [
                _contract("P1~E1", "DEV", "1003", fte=0.6, start=days(-300)),
                _contract("P2~E1", "HR", "1004", fte=0.6, start=days(-200), end=days(100)),
                _contract("P3~E2", "ICT", "1002", fte=0.4, start=days(-100)),
            ],
        ),
        _person(
            "1006",
            {"given": "Noah", "family": "Visser"},
            [_contract("1006-1", "DEV", "1003", start=days(30))],
        ),
        _person(
            "1007",
            {"given": "Lotte", "family": "Smit"},
            [_contract("1007-1", "HR", "1004", start=days(-900), end=days(-21))],
        ),
        _person(
            "1008",
            {"given": "Daan", "family": "Mulder"},
            [_contract("1008-1", "HR", "1004", start=days(-900), end=days(-200))],
        ),
        _person(
            "1009",
            {"given": "Fleur", "family": "Jong", "family_prefix": "de"},
            [_contract("1009-1", "ICT", "1002", start=days(120))],
        ),
        _person(
            "1010",
            {"given": "Ruud", "family": "Hoek", "family_prefix": "van 't", "convention": "B"},
            [_contract("1010-1", "DEV", "1003")],
        ),
    ]
    for person in persons:
        if person.external_id == "1005":
            person.contact.email = None
    return World(
        seed=0, today=TODAY, departments=departments, persons=persons, bad_persons=bad_rows()
    )


@dataclass
class Afas:
    """A running simulator and the means to talk to it."""

    sim: AfasSimulator
    url: str
    """The ProfitRestServices base URL (``http://127.0.0.1:PORT/profitrestservices``)."""
    plugins: list[AfasPlugin] = field(default_factory=list)
    """Plugins made by :meth:`plugin`, closed before the server stops."""

    @property
    def log(self) -> RequestLog:
        """The simulator's request log (it logs each request before answering it)."""
        return self.sim.app.log

    def settings(self, **overrides: Any) -> AfasSettings:
        values: dict[str, Any] = {
            "base_url": self.url,
            "token": TOKEN,
            "retries": 3,
            "backoff": 0.01,
            "max_backoff": 2.0,
            "timeout": 5.0,
        }
        values.update(overrides)
        return AfasSettings(**values)

    def plugin(self, **overrides: Any) -> AfasPlugin:
        plugin = AfasPlugin(settings=self.settings(**overrides))
        self.plugins.append(plugin)
        return plugin

    def http(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": afas_token_header(token)} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=5.0)

    def get(self, connector: str, **params: Any) -> httpx.Response:
        with self.http() as client:
            return client.get(f"/connectors/{connector}", params=params)

    def read(self, **settings: Any) -> tuple[dict[str, Person], list[Blocked]]:
        """Every person (validated) and every blocked row the plugin yields."""
        persons: dict[str, Person] = {}
        blocked: list[Blocked] = []
        for item in self.plugin(**settings).idsync_persons(ctx()):
            if isinstance(item, Blocked):
                blocked.append(item)
            else:
                person = Person.model_validate(item)
                assert person.external_id not in persons
                persons[person.external_id] = person
        return persons, blocked


def ctx(**values: Any) -> HookContext:
    """A hook context for the system ``hr`` at ``TODAY``."""
    return HookContext(system="hr", as_of=TODAY, **values)


class Kit:
    """The helpers tests build their cases with (test modules cannot import conftest)."""

    TODAY = TODAY
    TOKEN = TOKEN
    days = staticmethod(days)
    contract = staticmethod(_contract)
    person = staticmethod(_person)
    ctx = staticmethod(ctx)
    bad_rows = staticmethod(bad_rows)
    make_world = staticmethod(make_world)


@pytest.fixture
def kit() -> type[Kit]:
    """The case-building helpers."""
    return Kit


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def start_afas() -> Iterator[Callable[..., Afas]]:
    """Start simulators (``start(world, **simulator options)``); all stop after the test."""
    with ExitStack() as stack:

        def start(world: World, **options: Any) -> Afas:
            sim = AfasSimulator(from_world(world), TOKEN, **options)
            server = stack.enter_context(serve(sim.app))
            afas = Afas(sim=sim, url=f"{server.url}/profitrestservices")
            stack.callback(lambda: [p.close() for p in afas.plugins])
            return afas

        yield start


@pytest.fixture
def afas(start_afas: Callable[..., Afas], world: World) -> Afas:
    """The simulator with :func:`make_world`'s organisation."""
    return start_afas(world)
