"""The simulator speaks TOPdesk's API: auth, FIQL, both paging forms, archiving rules, lookups."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from idsync import Contract, Department, Name, Person, PersonRef, Ref
from idsync.sandbox.simulator import SimulatorServer, serve
from idsync.sandbox.world import World
from idsync_topdesk import TopdeskPlugin
from idsync_topdesk.simulator import V2_ACCEPT, TopdeskSimulator

Seed = Callable[..., dict[str, Any]]


def test_requests_without_valid_basic_auth_are_refused_with_401(
    server: SimulatorServer, sim: TopdeskSimulator
) -> None:
    url = f"{server.url}/tas/api/persons"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(sim.username, "wrong")).status_code == 401
    assert httpx.get(url, headers={"Authorization": "BASIC !!notbase64"}).status_code == 401
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    upper = httpx.get(url, headers={"Authorization": f"BASIC {token}"})
    assert upper.status_code == 204  # scheme is case-insensitive; no persons yet
    assert [r.status for r in sim.app.log.all()] == [401, 401, 401, 204]


def test_classic_paging_answers_206_while_more_pages_exist(http: httpx.Client, seed: Seed) -> None:
    for n in range(5):
        seed(str(n))
    first = http.get("/tas/api/persons", params={"start": 0, "page_size": 2})
    last = http.get("/tas/api/persons", params={"start": 4, "page_size": 2})
    beyond = http.get("/tas/api/persons", params={"start": 5, "page_size": 2})
    assert first.status_code == 206
    assert [p["employeeNumber"] for p in first.json()] == ["0", "1"]
    assert first.json()[0]["status"] == "person"
    assert last.status_code == 200
    assert len(last.json()) == 1
    assert beyond.status_code == 204
    assert beyond.content == b""
    assert http.get("/tas/api/persons", params={"page_size": 101}).status_code == 400
    assert len(http.get("/tas/api/persons").json()) == 5  # default page of 10


def test_v2_collection_pages_with_next_links_and_fields(http: httpx.Client, seed: Seed) -> None:
    for n in range(3):
        seed(str(n), archived=n == 1)
    headers = {"Accept": V2_ACCEPT}
    params = {"pageStart": 0, "pageSize": 2, "fields": "surName,employeeNumber"}
    first = http.get("/tas/api/persons", params=params, headers=headers).json()
    assert [set(item) for item in first["item"]] == [{"id", "surName", "employeeNumber"}] * 2
    assert first["next"].startswith(str(http.base_url))
    second = http.get(first["next"], headers=headers).json()
    assert [i["employeeNumber"] for i in second["item"]] == ["2"]
    assert second["next"] is None
    full = http.get("/tas/api/persons", params={"pageSize": 5}, headers=headers).json()
    assert [i["archived"] for i in full["item"]] == [False, True, False]
    assert all("status" not in i for i in full["item"])
    classic_with_v2_params = http.get("/tas/api/persons", params={"pageStart": 0})
    assert classic_with_v2_params.status_code == 400


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ("surName,gender", "gender"),  # not served by the v2 collection
        ("branch.name", "branch.name"),  # only top-level fields
        ("id,contract", "contract"),  # another endpoint's data
        ("privateDetails", "privateDetails"),
        ("status", "status"),  # the classic form's; v2 has archived
        ("surName,shoeSize", "shoeSize"),
        ("surName,,id", ""),
    ],
)
def test_v2_fields_must_be_ones_the_collection_serves(
    http: httpx.Client, seed: Seed, fields: str, refused: str
) -> None:
    seed("1")
    headers = {"Accept": V2_ACCEPT}
    answer = http.get("/tas/api/persons", params={"fields": fields}, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == [{"message": f"The field '{refused}' is not supported in 'fields'."}]


def test_v2_serves_the_persons_own_fields_and_classic_still_has_gender(
    http: httpx.Client, seed: Seed
) -> None:
    seed("1")
    fields = "id,archived,surName,dynamicName,branch,manager,creationDate,optionalFields1"
    v2 = http.get("/tas/api/persons", params={"fields": fields}, headers={"Accept": V2_ACCEPT})
    assert v2.status_code == 200
    assert set(v2.json()["item"][0]) == set(fields.split(","))
    classic = http.get("/tas/api/persons", params={"fields": "surName,gender"})
    assert classic.status_code == 200
    assert classic.json()[0]["gender"] == "UNDEFINED"


def test_an_environment_without_the_v2_collection_answers_406() -> None:
    sim = TopdeskSimulator.create("u", "p", v2_collection=False)
    with serve(sim.app) as server, httpx.Client(base_url=server.url, auth=("u", "p")) as http:
        v2 = http.get("/tas/api/persons", headers={"Accept": V2_ACCEPT})
        assert v2.status_code == 406
        assert V2_ACCEPT in v2.json()[0]["message"]
        assert http.get("/tas/api/persons").status_code == 204


def test_fiql_equals_not_equals_archived_and_combinations(http: httpx.Client, seed: Seed) -> None:
    seed("1", email="a@example.org")
    seed("2", archived=True)
    seed("3", branch="Utrecht", surName="O'Neill")

    def numbers(query: str) -> list[str]:
        response = http.get("/tas/api/persons", params={"query": query, "page_size": 100})
        assert response.status_code in (200, 204), response.text
        return [p["employeeNumber"] for p in response.json()] if response.content else []

    assert numbers("employeeNumber=='2'") == ["2"]
    assert numbers("employeeNumber!='2'") == ["1", "3"]
    assert numbers("archived==true") == ["2"]
    assert numbers("archived==false;branch.name=='utrecht'") == ["3"]
    assert numbers("employeeNumber=='1',employeeNumber=='3'") == ["1", "3"]
    assert numbers("surName=='O\\'Neill'") == ["3"]
    assert numbers("email == 'A@example.org'") == ["1"]
    bad = http.get("/tas/api/persons", params={"query": "nonsense=='x'"})
    assert bad.status_code == 400
    assert "unknown field" in bad.json()[0]["message"]


def test_archiving_needs_a_known_reason_and_archived_persons_cannot_be_patched(
    http: httpx.Client, seed: Seed, sim: TopdeskSimulator
) -> None:
    person_id = seed("1")["id"]
    reason = sim.store.find("archiving-reasons", "Persoon uit organisatie")
    assert reason is not None
    base = f"/tas/api/persons/id/{person_id}"
    assert http.patch(f"{base}/archive").status_code == 400
    assert http.patch(f"{base}/archive", json={"id": "nope"}).status_code == 400
    archived = http.patch(f"{base}/archive", json={"id": reason["id"]})
    assert archived.status_code == 200
    assert archived.json()["status"] == "personArchived"
    assert http.patch(f"{base}/archive", json={"id": reason["id"]}).status_code == 400
    refused = http.patch(base, json={"jobTitle": "Tester"})
    assert refused.status_code == 400
    assert "archived" in refused.json()[0]["message"]
    assert http.patch(f"{base}/unarchive").json()["status"] == "person"
    assert http.patch(f"{base}/unarchive").status_code == 400
    assert http.patch(base, json={"jobTitle": "Tester"}).json()["jobTitle"] == "Tester"
    assert http.get("/tas/api/persons/id/unknown").status_code == 404


def test_person_writes_follow_topdesk_rules(
    http: httpx.Client, seed: Seed, sim: TopdeskSimulator
) -> None:
    baarn = sim.store.find("branches", "Baarn")
    assert baarn is not None
    no_branch = http.post("/tas/api/persons", json={"surName": "Jansen"})
    assert no_branch.status_code == 400
    assert no_branch.json() == [{"message": "The field 'branch' is mandatory."}]
    unknown = http.post("/tas/api/persons", json={"surName": "J", "branch": {"id": "x"}})
    assert unknown.status_code == 400
    bad_field = http.post(
        "/tas/api/persons", json={"surName": "J", "branch": {"id": baarn["id"]}, "shoe": 1}
    )
    assert bad_field.status_code == 400
    manager = seed("9")
    not_a_manager = http.post(
        "/tas/api/persons",
        json={"surName": "J", "branch": {"id": baarn["id"]}, "manager": {"id": manager["id"]}},
    )
    assert not_a_manager.status_code == 400
    http.patch(f"/tas/api/persons/id/{manager['id']}", json={"isManager": True})
    created = http.post(
        "/tas/api/persons",
        json={
            "surName": "Jansen",
            "prefixes": "van",
            "firstName": "Piet",
            "branch": {"id": baarn["id"]},
            "manager": {"id": manager["id"]},
            "tasLoginName": "pjansen",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["dynamicName"] == "Piet van Jansen"
    assert body["branch"]["name"] == "Baarn"
    assert body["status"] == "person"
    assert body["manager"] == {"id": manager["id"], "name": "Voornaam9 Achternaam9"}
    twin = http.post(
        "/tas/api/persons",
        json={"surName": "Twin", "branch": {"id": baarn["id"]}, "tasLoginName": "PJansen"},
    )
    assert twin.status_code == 400  # tasLoginName is unique


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"jobTitle": 5}, "The field 'jobTitle' must be text."),
        ({"isManager": "true"}, "The field 'isManager' must be true or false."),
        ({"gender": "male"}, "gender must be MALE, FEMALE or UNDEFINED."),
        ({"department": "ICT"}, "The field 'department' must be an object {\"id\": …}."),
        ({"department": {"id": 7}}, "The field 'department.id' must be text."),
        (
            {"manager": {"id": "x", "boss": True}},
            "The field 'manager' must be an object {\"id\": …}.",
        ),
        ({"departmentFree": 3}, "The field 'departmentFree' must be text."),
        (
            {"optionalFields1": {"number1": "3"}},
            "The field 'optionalFields1.number1' has the wrong type.",
        ),
        (
            {"optionalFields1": {"boolean1": 1}},
            "The field 'optionalFields1.boolean1' has the wrong type.",
        ),
        (
            {"optionalFields2": {"text1": ["a"]}},
            "The field 'optionalFields2.text1' has the wrong type.",
        ),
        ({"optionalFields2": {"colour": "red"}}, "Unrecognized field 'optionalFields2.colour'."),
        ({"optionalFields2": "red"}, "The field 'optionalFields2' must be an object."),
        ({"shoeSize": 42}, "Unrecognized field 'shoeSize'."),
        ({"dynamicName": "x"}, "The field 'dynamicName' cannot be changed."),
    ],
)
def test_person_writes_refuse_unknown_fields_and_wrong_types(
    http: httpx.Client, seed: Seed, sim: TopdeskSimulator, fields: dict[str, Any], message: str
) -> None:
    person = seed("1")
    baarn = sim.store.find("branches", "Baarn")
    assert baarn is not None
    create = http.post(
        "/tas/api/persons", json={"surName": "J", "branch": {"id": baarn["id"]}, **fields}
    )
    patch = http.patch(f"/tas/api/persons/id/{person['id']}", json=fields)
    for answer in (create, patch):
        assert answer.status_code == 400
        assert answer.json() == [{"message": message}]
    assert len(sim.store.persons) == 1
    assert sim.store.person(person["id"]) == person


def test_archiving_refuses_a_body_other_than_the_reason_id(
    http: httpx.Client, seed: Seed, sim: TopdeskSimulator
) -> None:
    base = f"/tas/api/persons/id/{seed('1')['id']}/archive"
    reason = sim.store.find("archiving-reasons", "Persoon uit organisatie")
    assert reason is not None
    for body, message in (
        ({"id": reason["id"], "name": "x"}, "Unrecognized field 'name'."),
        ({"id": 1}, "The field 'id' must be text."),
        ([reason["id"]], "The request body must be a JSON object."),
    ):
        answer = http.patch(base, json=body)
        assert answer.status_code == 400
        assert answer.json() == [{"message": message}]
    assert http.patch(base, json={"id": reason["id"]}).status_code == 200


def test_lookups_are_id_name_lists_and_can_be_created(http: httpx.Client) -> None:
    departments = http.get("/tas/api/departments").json()
    assert {d["name"] for d in departments} == {"ICT", "Personeelszaken"}
    assert set(departments[0]) == {"id", "name", "externalLinks"}
    created = http.post("/tas/api/budgetholders", json={"name": "Kostenplaats 200"})
    assert created.status_code == 201
    assert http.post("/tas/api/budgetholders", json={"name": "kostenplaats 200"}).status_code == 400
    country = next(c for c in http.get("/tas/api/countries").json() if c["name"] == "Nederland")
    no_country = http.post(
        "/tas/api/branches", json={"name": "Zeist", "branchType": "independentBranch"}
    )
    assert no_country.status_code == 400
    branch = http.post(
        "/tas/api/branches",
        json={
            "name": "Zeist",
            "branchType": "independentBranch",
            "postalAddress": {"country": {"id": country["id"]}},
        },
    )
    assert branch.status_code == 201
    reasons = http.get("/tas/api/archiving-reasons").json()
    assert all(set(r) == {"id", "name"} for r in reasons)
    assert http.post("/tas/api/archiving-reasons", json={"name": "x"}).status_code == 405


def test_faults_and_request_log_wrap_the_api(http: httpx.Client, sim: TopdeskSimulator) -> None:
    sim.app.faults.update({"error_rate": 1.0})
    assert http.get("/tas/api/departments").status_code in (500, 502, 503)
    sim.app.faults.update({"error_rate": 0.0})
    log = http.get("/__sim__/requests").json()
    assert [(r["path"], r["fault"]) for r in log] == [("/tas/api/departments", "error")]


def _world() -> World:
    today = dt.date(2025, 6, 1)
    departments = [
        Department(external_id="D1", name="Directie"),
        Department(external_id="D2", name="ICT", parent="D1"),
    ]
    persons = []
    for n in range(20):
        contract = Contract(
            external_id=f"C{n}",
            start=dt.date(2020, 1, 1),
            end=dt.date(2024, 12, 31) if n == 3 else None,
            department=Ref(external_id="D2", name="ICT"),
            title=Ref(name="Engineer"),
            location=Ref(name="Utrecht" if n % 2 else "Baarn"),
            cost_center=Ref(name="KP 100"),
            manager=PersonRef(external_id="0") if n else None,
        )
        persons.append(
            Person(
                external_id=str(n),
                name=Name(given=f"Jan{n}", family="Jansen", family_prefix="de"),
                contracts=[contract],
            )
        )
    return World(seed=11, today=today, departments=departments, persons=persons)


def test_sandbox_hook_seeds_branches_departments_and_some_persons() -> None:
    world = _world()
    sandbox = TopdeskPlugin().idsync_sandbox(world=world)
    assert sandbox is not None
    assert set(sandbox.env) == {"TOPDESK_BASE_URL", "TOPDESK_USERNAME", "TOPDESK_PASSWORD"}
    assert sandbox.env["TOPDESK_BASE_URL"] == "{url}"
    with serve(sandbox.app) as server:
        auth = (sandbox.env["TOPDESK_USERNAME"], sandbox.env["TOPDESK_PASSWORD"])
        with httpx.Client(base_url=server.url, auth=auth) as client:
            branches = {b["name"] for b in client.get("/tas/api/branches").json()}
            departments = {d["name"] for d in client.get("/tas/api/departments").json()}
            persons = client.get("/tas/api/persons", params={"page_size": 100}).json()
    assert branches == {"Baarn", "Utrecht"}
    assert departments == {"Directie", "ICT"}
    assert 0 < len(persons) < 20
    again = TopdeskPlugin().idsync_sandbox(world=_world())
    assert again is not None
    assert summary_numbers(again.summary) == summary_numbers(sandbox.summary)
    by_number = {p["employeeNumber"]: p for p in persons}
    # seed 11 picks 0 (the manager of all) and 3 (whose contract ended) among others
    assert {"0", "3"} <= set(by_number)
    assert by_number["3"]["status"] == "personArchived"
    assert by_number["1"]["branch"]["name"] == "Utrecht"
    assert by_number["1"]["department"]["name"] == "ICT"
    assert by_number["1"]["surName"] == "de Jansen"
    assert by_number["1"]["dynamicName"] == "Jan1 de Jansen"
    managed = [p for p in persons if p["manager"]]
    assert len(managed) == len(persons) - 1
    assert all(p["manager"]["id"] == by_number["0"]["id"] for p in managed)
    assert by_number["0"]["isManager"] is True


def summary_numbers(summary: str) -> list[str]:
    return [word for word in summary.split() if word.strip("(),").isdigit()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_standalone_simulator_serves_a_generated_world_on_loopback() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idsync_topdesk.simulator",
            "--port",
            str(port),
            "--username",
            "op",
            "--password",
            "pw",
            "--size",
            "40",
            "--seed",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/tas/api/archiving-reasons"
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(url, auth=("op", "pw"))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the simulator did not start")
                time.sleep(0.1)
        assert response.status_code == 200
        assert "Persoon uit organisatie" in {r["name"] for r in response.json()}
        assert httpx.get(url, auth=("op", "bad")).status_code == 401
        api = f"http://127.0.0.1:{port}/tas/api"
        persons = httpx.get(f"{api}/persons", params={"page_size": 100}, auth=("op", "pw"))
        assert persons.status_code == 200
        assert 0 < len(persons.json()) < 40  # some of the generated world's persons
        assert httpx.get(f"{api}/branches", auth=("op", "pw")).json()
    finally:
        process.terminate()
        process.wait(timeout=10)
