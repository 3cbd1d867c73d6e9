"""Broken HR rows: every source plugin's data gets a corpus of malformed rows. Nothing crashes,
each bad person is blocked with a reason naming the person and the field, and every good person
(the unusual but valid ones included) is planned as if the bad rows were not there."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from typing import Any

import pytest
from idsync.sandbox.simulator import serve
from idsync_helloid.simulator import HelloIDStore, simulate
from idsync_topdesk.simulator import TopdeskSimulator
from reliability.harness import IDSYNC, on_state
from support import HELLOID_KEY, HELLOID_SECRET, Org

AS_OF = "2026-01-20"
LONG = "x" * 10_000
GOOD = {"1001", "1002", "1003", "1004", "1005", "1007", "1008"}
"""The hand-made organisation's persons who get a HelloID account (1006 is external)."""

# --- AFAS --------------------------------------------------------------------------------


def _afas_row(pid: str, family: str = "Persoon", **contract: Any) -> dict[str, Any]:
    """A valid person in the core model's shape, as the AFAS simulator takes it."""
    return {
        "external_id": pid,
        "display_name": f"Test {family} {pid}",
        "name": {"given": "Test", "nick": "Test", "family": f"{family}{pid}"},
        "contact": {"email": f"t{pid}@example.org"},
        "contracts": [
            {
                "external_id": f"{pid}-1",
                "start": "2024-01-01",
                "end": None,
                "department": {"external_id": "SALES", "code": "SALES", "name": "Sales"},
                "title": {"code": "MW", "name": "Medewerker"},
                "type": {"code": "VAST", "name": "VAST"},
                "fte": 1.0,
                **contract,
            }
        ],
    }


def _named(pid: str, **name: Any) -> dict[str, Any]:
    row = _afas_row(pid)
    row["name"].update(name)
    return row


@dataclass
class Case:
    """One malformed row (or pair of rows) and what the import must say about it."""

    rows: list[dict[str, Any]]
    blocked: dict[str, str]
    """Person (or row label) → the field the reason must name."""


def afas_corpus() -> dict[str, Case]:
    """Every kind of broken HR row, in AFAS terms."""
    no_number = _afas_row("")
    no_number["contracts"][0]["external_id"] = "anon-1"
    twice_a, twice_b = _afas_row("3009", "Eerste"), _afas_row("3009", "Tweede")
    twice_b["contracts"][0]["external_id"] = "3009-2"
    twin_contracts = _afas_row("3010")
    twin_contracts["contracts"].append(dict(twin_contracts["contracts"][0], fte=0.2))
    loop_a = _afas_row("3012", manager={"external_id": "3013"})
    loop_b = _afas_row("3013", manager={"external_id": "3012"})
    long_number = _afas_row(LONG)
    long_number["contracts"][0]["external_id"] = "long-1"
    return {
        "missing family name": Case([_named("3001", family="")], {"3001": "Geboortenaam"}),
        "missing employee number": Case(
            [no_number], {"row 1 of T4E_HelloID_Users_v2": "Medewerker"}
        ),
        "missing start date": Case([_afas_row("3003", start=None)], {"3003": "Begindatum_functie"}),
        "fte is text": Case([_afas_row("3004", fte="veel")], {"3004": "FTE"}),
        "start date is a number": Case(
            [_afas_row("3005", start=20250101)], {"3005": "Begindatum_functie"}
        ),
        "naming convention is a boolean": Case(
            [_named("3006", convention=True)], {"3006": "Naamgebruik_code"}
        ),
        "impossible date": Case(
            [_afas_row("3007", start="2025-02-30")], {"3007": "Begindatum_functie"}
        ),
        "end before start": Case(
            [_afas_row("3008", start="2025-03-01", end="2025-01-31")],
            {"3008": "Einddatum_functie"},
        ),
        "duplicate employee number": Case([twice_a, twice_b], {"3009": "Medewerker"}),
        "duplicate contract id": Case([twin_contracts], {"3010": "ExternalID"}),
        "unknown department": Case(
            [_afas_row("3011", department={"external_id": "NOPE", "code": "NOPE", "name": "Nope"})],
            {"3011": "contracts.0.department"},
        ),
        "manager loop": Case([loop_a, loop_b], {"3012": "manager", "3013": "manager"}),
        "10,000-character given name": Case([_named("3014", given=LONG)], {"3014": "Voornaam"}),
        "10,000-character employee number": Case([long_number], {LONG[:100]: "Medewerker"}),
        "10,000-character display name": Case(
            [dict(_afas_row("3016"), display_name=LONG)], {"3016": "DisplayName"}
        ),
        "control character in the display name": Case(
            [dict(_afas_row("3017"), display_name="Test\x0bPersoon")], {"3017": "DisplayName"}
        ),
        "NUL in the given name": Case([_named("3018", given="Te\x00st")], {"3018": "Voornaam"}),
        "terminal escape in the family name": Case(
            [_named("3019", family="\x1b[31mRood")], {"3019": "Geboortenaam"}
        ),
        "right-to-left override in the family name": Case(
            [_named("3020", family="Jansen\u202egnp.exe")], {"3020": "Geboortenaam"}
        ),
        "line break in the e-mail address": Case(
            [dict(_afas_row("3021"), contact={"email": "t3021@example.org\nBcc: x@evil.test"})],
            {"3021": "Email_werk"},
        ),
    }


def afas_unusual_but_valid() -> list[dict[str, Any]]:
    """Rows that look odd but are right: they must be planned like anyone else."""
    arabic = _named("3101", given="محمد", nick="محمد", family="العلي")
    hebrew = _named("3102", given="נועה", nick="נועה", family="כהן")
    combining = _named("3103", given="Zoe\u0308", nick="Zoe\u0308", family="Bru\u0308ggen")
    combining["contact"] = {"email": None}  # the user name comes from the decomposed name
    long_but_fine = _named("3104", family="Van" + "de" * 100)
    return [arabic, hebrew, combining, long_but_fine]


def _inject_afas(org: Org, rows: list[dict[str, Any]]) -> None:
    data = org.afas.data
    with data.lock:
        for row in rows:
            data.add_person(copy.deepcopy(row), listed=True)
        data.changed()


MANAGER_ONLY = {"3012", "3013", "4204", "4205"}
"""Persons in a manager loop: only their manager link is blocked; they are planned."""


def _check_plan(
    plan: dict[str, Any], expected: dict[str, str], good: set[str], source: str
) -> None:
    """Each bad person blocked on the named field, once; each good person planned (and the
    persons of a manager loop too, without their manager link)."""
    blocked: dict[str, list[dict[str, Any]]] = {}
    for item in plan["blocked"]:
        blocked.setdefault(item["person"], []).append(item)

    def matches(person: str, expect: str) -> bool:
        field, _, mentioned = expect.partition("+")
        found = blocked.get(person, [])
        return [b["field"] for b in found] == [field] and mentioned in found[0]["problem"]

    wrong = {
        person[:40]: (field, [(b["field"], b["problem"][:120]) for b in blocked.get(person, [])])
        for person, field in expected.items()
        if not matches(person, field)
    }
    extra = {
        p[:40]: [(b["field"], b["problem"][:120]) for b in blocked[p]]
        for p in set(blocked) - set(expected)
    }
    if wrong or extra:
        pytest.fail(
            f"blocked differently than expected:\n{pformat(wrong)}\nunexpected:\n{pformat(extra)}"
        )
    for person in expected:
        for item in blocked[person]:
            assert item["source"] == source
            assert item["problem"]
            assert item["scope"] == ("manager" if person in MANAGER_ONLY else "person")
    # A person is planned as a joiner: created, or linked to the account that exists.
    creates = {a["person"] for a in plan["actions"] if a.get("transition") == "joiner"}
    creates_helloid = {
        a["person"]
        for a in plan["actions"]
        if a.get("transition") == "joiner" and a["target"] == "helloid"
    }
    assert good | (MANAGER_ONLY & set(expected)) <= creates_helloid, sorted(good - creates_helloid)
    whole = set(expected) - MANAGER_ONLY
    assert not creates & whole, sorted(creates & whole)


def test_afas_bad_rows_are_blocked_and_good_persons_planned(org: Org, state_url: str) -> None:
    corpus = afas_corpus()
    rows = [row for case in corpus.values() for row in case.rows]
    _inject_afas(org, rows + afas_unusual_but_valid())
    expected = {p: f for case in corpus.values() for p, f in case.blocked.items()}
    moved = on_state(org, state_url)

    plan = moved.json("plan", str(moved.pipeline), "--as-of", AS_OF, check=4)
    good = GOOD | {"3101", "3102", "3103", "3104"}
    _check_plan(plan, expected, good, "hr")
    for item in plan["blocked"]:
        assert len(item["problem"]) <= 500
        assert "Traceback" not in item["problem"]

    # A real run stores and does the same, on either state store, and blocks the same persons.
    result = moved.json("run", str(moved.pipeline), "--as-of", AS_OF)
    assert result["exit_code"] == 0, result
    assert {b["person"] for b in result["blocked"]} == set(expected)
    assert moved.user("zoe.bruggen@example.org") is not None
    store = moved.store()
    try:
        touched = {r["person"] for r in store.audit(limit=10_000)}
    finally:
        store.close()
    assert not touched & (set(expected) - MANAGER_ONLY)
    assert good <= touched


# --- TOPdesk -----------------------------------------------------------------------------

TOPDESK_USER = "idsync-api"
TOPDESK_PASSWORD = "topdesk-application-password-0123"
TOPDESK_PIPELINE = """
name: topdesk-source
state: "__STATE__"
sources:
  sd:
    plugin: topdesk
    settings: {base_url: "${TOPDESK_BASE_URL}", username: "${TOPDESK_USERNAME}", password: "${TOPDESK_PASSWORD}", contract_dates: true, page_size: 7, backoff: 0.01}
targets:
  helloid:
    plugin: helloid
    settings: {base_url: "${HELLOID_BASE_URL}", api_key: "${HELLOID_API_KEY}", api_secret: "${HELLOID_API_SECRET}", backoff: 0.01, max_backoff: 0.05}
    account:
      correlate: {person: account.userName, account: userName}
      unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
      mapping:
        firstName: "{{ person.name.first }}"
        lastName: "{{ person.name.full_family }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        userAttributes.department: "{{ contract.department.name }}"
    permissions:
      - {dynamic: "group:department_{{ contract.department.name }}"}
    resources: ["group:department_{{ department.name }}"]
"""


class _HideDepartment:
    """The TOPdesk API with one department left out of ``GET /departments``: persons still
    name it, as when a department is removed from the list but not from its people."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/departments"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = json.loads(b"".join(chunks))
        data = json.dumps([d for d in body if d.get("name") != self.name]).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": data})


@dataclass
class TopdeskOrg:
    """A TOPdesk source and a HelloID target on 127.0.0.1, and a pipeline over them."""

    sim: TopdeskSimulator
    helloid: HelloIDStore
    pipeline: Path
    env: dict[str, str]

    def json(self, *args: str) -> Any:
        """Run ``idsync … --json``; it must finish without a traceback (a plan with changes
        exits 4)."""
        done = subprocess.run(
            [str(IDSYNC), *args, "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 1, 4), done.stderr[-3000:]
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return json.loads(done.stdout)

    def add(self, number: str | None, **fields: Any) -> str:
        """Seed a valid person (with a hire date) and return its TOPdesk id; ``fields``
        override its values (raw, as stored)."""
        values: dict[str, Any] = {
            "surName": f"Achternaam{number}",
            "firstName": "Test",
            "email": f"td{number}@example.org",
            "employeeNumber": number or "",
        }
        person = self.sim.store.seed_person(
            branch="Utrecht",
            department="ICT",
            contract={"hireDate": "2024-01-01T00:00:00.000+0000"},
            **values,
        )
        with self.sim.store.lock:
            self.sim.store.persons[person["id"]].update(fields)
        return str(person["id"])


@pytest.fixture
def topdesk_org(tmp_path: Path, state_url: str) -> Iterator[TopdeskOrg]:
    sim = TopdeskSimulator.create(TOPDESK_USER, TOPDESK_PASSWORD, seed=5)
    sim.store.add_branch("Utrecht")
    for department in ("ICT", "Verkoop", "Opgeheven"):
        sim.store.add_entry("departments", department)
    helloid = HelloIDStore(seed=5)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(TOPDESK_PIPELINE.replace("__STATE__", state_url), encoding="utf-8")
    hidden = _HideDepartment(sim.app, "Opgeheven")
    with (
        serve(hidden) as topdesk_server,
        serve(simulate(helloid, api_key=HELLOID_KEY, api_secret=HELLOID_SECRET)) as helloid_server,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TOPDESK_", "HELLOID_"))},
            "TOPDESK_BASE_URL": topdesk_server.url,
            "TOPDESK_USERNAME": TOPDESK_USER,
            "TOPDESK_PASSWORD": TOPDESK_PASSWORD,
            "HELLOID_BASE_URL": helloid_server.url + "/api/v1",
            "HELLOID_API_KEY": HELLOID_KEY,
            "HELLOID_API_SECRET": HELLOID_SECRET,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        yield TopdeskOrg(sim=sim, helloid=helloid, pipeline=pipeline, env=env)


def topdesk_corpus(org: TopdeskOrg) -> tuple[dict[str, str], set[str]]:
    """Seed good and malformed TOPdesk persons; the bad ones' expected fields, and the good."""
    good = {"4001", "4002", "4003", "4004", "4005"}
    for number in sorted(good):
        org.add(number)
    org.add("4101", firstName="محمد", surName="العلي")
    org.add("4102", firstName="Zoe\u0308", surName="Bru\u0308ggen", email="")
    good |= {"4101", "4102"}

    expected: dict[str, str] = {}
    org.add("4201", surName="")
    expected["4201"] = "surName"
    anonymous = org.add(None)
    expected[f"TOPdesk person {anonymous}"] = "employeeNumber"
    org.add("4203")
    org.add("4203", firstName="Dubbel")
    expected["4203"] = "employeeNumber"
    a, b = org.add("4204"), org.add("4205")
    with org.sim.store.lock:
        org.sim.store.persons[a]["manager"] = b
        org.sim.store.persons[b]["manager"] = a
    expected["4204"] = expected["4205"] = "manager"
    gone = org.sim.store.find("departments", "Opgeheven")
    assert gone is not None
    org.add("4206", department=gone["id"])
    expected["4206"] = "contracts.0.department"
    # TOPdesk's dynamicName (the display name) is made of the name parts, so it is named
    # first; the reason goes on to name the part itself.
    org.add("4207", surName=LONG)
    expected["4207"] = "display_name+name.family"
    org.add(LONG)
    expected[LONG[:100]] = "external_id"
    org.add("4209", firstName="Te\x00st")
    expected["4209"] = "display_name+name.given"
    org.add("4210", surName="\x1b]0;pwned\x07Jansen")
    expected["4210"] = "display_name+name.family"
    org.add("4211", surName="Jansen\u202egnp.exe")
    expected["4211"] = "display_name+name.family"
    org.add("4212", email="td4212@example.org\r\nBcc: x@evil.test")
    expected["4212"] = "contact.email"
    org.add("4213", employeeNumber="42\x0913")
    expected["42\t13"] = "external_id"
    return expected, good


def test_topdesk_bad_rows_are_blocked_and_good_persons_planned(topdesk_org: TopdeskOrg) -> None:
    expected, good = topdesk_corpus(topdesk_org)
    plan = topdesk_org.json("plan", str(topdesk_org.pipeline))
    _check_plan(plan, expected, good, "sd")
    result = topdesk_org.json("run", str(topdesk_org.pipeline))
    assert result["exit_code"] == 0, result
    assert {b["person"] for b in result["blocked"]} == set(expected)
    names = {u["userName"] for u in topdesk_org.helloid.users.values()}
    assert "zoe.bruggen@example.org" in names


def test_topdesk_lenient_values_never_crash(topdesk_org: TopdeskOrg) -> None:
    """Values the TOPdesk source reads leniently (documented in docs/guarantees.md): text in
    place of a lookup, numbers in place of text, dates that are not dates. Nothing crashes;
    the good persons are planned."""
    good = {"4301"}
    topdesk_org.add("4301")
    topdesk_org.add("4302", department="not-an-id", branch=None, manager="nobody")
    topdesk_org.add("4303", surName=12345, firstName=["a", "list"])
    pid = topdesk_org.add("4304")
    with topdesk_org.sim.store.lock:
        topdesk_org.sim.store.contracts[pid] = {
            "hireDate": "2025-02-30T00:00:00.000+0000",
            "employmentTerminationDate": "2020-01-01T00:00:00.000+0000",
        }
    plan = topdesk_org.json("plan", str(topdesk_org.pipeline))
    creates = {a["person"] for a in plan["actions"] if a["kind"] == "create"}
    assert good <= creates
