"""The lifecycle of the small organisation, AFAS simulator → a real scim2-server, through the CLI.

The same organisation and dates as ``test_lifecycle.py`` (HelloID), with the SCIM plugin as
the target: a real, unmodified scim2-server in a process of its own, stopped by its pid.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from idsync.sandbox.simulator import SimulatorServer, serve
from idsync_afas.simulator import MOUNT as AFAS_MOUNT
from idsync_afas.simulator import AfasSimulator, from_world
from idsync_scim.testing import Scim2Server
from support import AFAS_TOKEN, IDSYNC, organisation

JOINED = "2026-01-20"  # before the joiner's start, before the leaver's end
MOVED = "2026-02-02"  # joiner started, mover moved, leaver left
GONE = "2026-03-05"  # more than 30 days after the leaver was disabled

SCIM_TOKEN = "e2e-scim-token-0c4b7d21"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

PIPELINE = """
name: e2e-scim
state: sqlite:///__DB__
sources:
  hr:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", page_size: 3, backoff: 0.01, max_backoff: 0.05}
    thresholds: {removed: "20%"}
targets:
  scim:
    plugin: scim
    settings: {base_url: "${SCIM_BASE_URL}", token: "${SCIM_TOKEN}", page_size: 4, backoff: 0.01, max_backoff: 0.05, timeout: 10}
    concurrency: 4
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: external_id, account: "__EMPLOYEE__"}
      unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
      mapping:
        name.givenName: "{{ person.name.first }}"
        name.familyName: "__FAMILY__"
        'emails[type eq "work"].value': "{{ person.contact.email }}"
        __EMPLOYEE__: "{{ person.external_id }}"
        __ENTERPRISE__:department: "{{ contract.department.name }}"
      lifecycle: {create_days_before_start: 14, enable_days_before_start: 3, delete_days_after_disable: 30}
    permissions:
      - {when: "contract.title.code == 'ICT-ADM'", grant: "group:ICT Admins"}
      - {dynamic: "group:department_{{ contract.department.code }}"}
    resources: ["group:department_{{ department.code }}"]
"""


@dataclass
class ScimOrg:
    """The AFAS simulator, the SCIM server and the pipeline that joins them."""

    afas: AfasSimulator
    afas_server: SimulatorServer
    scim: Scim2Server
    pipeline: Path
    db: Path
    env: dict[str, str]
    hand_made: str
    """The id of the account an administrator made for employee 1001 before idsync came."""

    def write_pipeline(self, family: str = "{{ person.name.full_family }}") -> None:
        """(Re)write the pipeline; ``family`` is the template (or key) of the family name."""
        text = (
            PIPELINE.replace("__DB__", str(self.db))
            .replace("__EMPLOYEE__", f"{ENTERPRISE}:employeeNumber")
            .replace("__ENTERPRISE__", ENTERPRISE)
            .replace("__FAMILY__", family)
        )
        self.pipeline.write_text(text, encoding="utf-8")

    def idsync(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run the ``idsync`` command; ``check`` is the exit code expected (None: any)."""
        result = subprocess.run(
            [str(IDSYNC), *args], capture_output=True, text=True, env=self.env, timeout=180
        )
        if check is not None and result.returncode != check:
            raise AssertionError(
                f"idsync {' '.join(args)} exited {result.returncode}, expected {check}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def run(self, as_of: str, check: int | None = 0) -> Any:
        """``idsync run --as-of`` with JSON output, parsed."""
        answer = self.idsync(
            "run", str(self.pipeline), "--as-of", as_of, "--time-travel", "--json", check=check
        )
        return json.loads(answer.stdout)

    def all(self, endpoint: str) -> list[dict[str, Any]]:
        """Every resource at ``/Users`` or ``/Groups``, read straight from the server."""
        with self.scim.client() as client:
            answer = client.get(endpoint, params={"count": 1000})
            answer.raise_for_status()
            resources: list[dict[str, Any]] = answer.json().get("Resources", [])
            return resources

    def user(self, name: str) -> dict[str, Any] | None:
        """The user with this userName, if any (exactly one, or the test fails)."""
        found = [u for u in self.all("/Users") if u["userName"].casefold() == name.casefold()]
        assert len(found) <= 1, f"{len(found)} users are called {name}"
        return found[0] if found else None

    def groups_of(self, name: str) -> set[str]:
        """The displayNames of the groups that list the user as a member."""
        user = self.user(name)
        assert user is not None, f"no SCIM user {name}"
        return {
            g["displayName"]
            for g in self.all("/Groups")
            if any(m.get("value") == user["id"] for m in g.get("members", []))
        }

    def versions(self) -> dict[str, str]:
        """Every resource's ETag (``meta.version``), by id."""
        return {r["id"]: r["meta"]["version"] for r in [*self.all("/Users"), *self.all("/Groups")]}


@pytest.fixture
def scim_org(tmp_path: Path) -> Iterator[ScimOrg]:
    """The organisation in AFAS; a SCIM server with one group and one hand-made account."""
    afas = AfasSimulator(from_world(organisation()), AFAS_TOKEN)
    with serve(afas.app) as afas_server, Scim2Server(tmp_path / "scim", token=SCIM_TOKEN) as scim:
        with scim.client() as client:
            client.post("/Groups", json={"schemas": [GROUP], "displayName": "ICT Admins"})
            made = client.post(
                "/Users",
                json={
                    "schemas": [USER, ENTERPRISE],
                    "userName": "jan.vries@corp.example",
                    "name": {"givenName": "Jan", "familyName": "Vries"},
                    "active": True,
                    ENTERPRISE: {"employeeNumber": "1001"},
                },
            )
            made.raise_for_status()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "SCIM_"))},
            "AFAS_BASE_URL": afas_server.url + AFAS_MOUNT,
            "AFAS_TOKEN": AFAS_TOKEN,
            "SCIM_BASE_URL": scim.url,
            "SCIM_TOKEN": SCIM_TOKEN,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        db, pipeline = tmp_path / "state.db", tmp_path / "pipeline.yaml"
        org = ScimOrg(afas, afas_server, scim, pipeline, db, env, made.json()["id"])
        org.write_pipeline()
        yield org


def test_check_reads_the_schemas_and_names_a_key_the_server_lacks(scim_org: ScimOrg) -> None:
    before = len(scim_org.scim.writes())  # the fixture's group and hand-made user
    ok = scim_org.idsync("check", str(scim_org.pipeline), "--connect")
    assert "connected to SCIM" in ok.stdout
    scim_org.write_pipeline(family='{{ person.name.full_family }}"\n        name.familyNme: "x')
    bad = scim_org.idsync("check", str(scim_org.pipeline), "--connect", check=1)
    assert "no attribute 'name.familyNme'; did you mean 'name.familyName'?" in bad.stdout
    assert SCIM_TOKEN not in bad.stdout + bad.stderr
    assert len(scim_org.scim.writes()) == before


def test_joiners_movers_leavers_against_a_real_scim_server(scim_org: ScimOrg) -> None:
    org = scim_org
    before = len(org.scim.writes())  # the fixture's group and hand-made user
    plan = json.loads(
        org.idsync("plan", str(org.pipeline), "--as-of", JOINED, "--json", check=4).stdout
    )
    assert plan["actions"]
    assert len(org.scim.writes()) == before  # planning writes nothing

    org.run(JOINED)
    # The hand-made account carries the employee number: linked and brought in line.
    linked = [u for u in org.all("/Users") if u.get(ENTERPRISE, {}).get("employeeNumber") == "1001"]
    assert [u["id"] for u in linked] == [org.hand_made]
    # Its user name is the person's login already: under the default ``rename: keep`` a link
    # keeps it, and the generated candidate stays free for others.
    assert linked[0]["userName"] == "jan.vries@corp.example"
    assert linked[0]["name"]["familyName"] == "de Vries"
    assert linked[0][ENTERPRISE]["department"] == "Sales"
    anna = org.user("a.vanderberg@example.org")
    assert anna is not None
    assert anna["active"] is True
    assert anna["emails"] == [{"type": "work", "value": "a.vanderberg@example.org"}]
    assert linked[0][ENTERPRISE]["manager"] == {"value": anna["id"]}
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
    joiner = org.user("f.elamrani@example.org")
    assert joiner is not None
    assert joiner["active"] is False  # starts 1 February: created, not yet enabled
    assert org.user("eva@consult.example") is None  # externals get nothing
    assert org.user("jan.devries@example.org")[ENTERPRISE]["employeeNumber"] == "1007"
    assert org.user("jan.devries2@example.org")[ENTERPRISE]["employeeNumber"] == "1008"
    assert "emails" not in org.user("jan.devries@example.org")  # no e-mail: unassigned
    groups = {g["displayName"] for g in org.all("/Groups")}
    assert {f"department_{c}" for c in ("ORG", "SALES", "ICT", "HR", "EXT")} <= groups

    # A re-run changes nothing: not a single write, not one ETag moved.
    versions, writes = org.versions(), len(org.scim.writes())
    assert org.run(JOINED)["counts"] == {}
    assert len(org.scim.writes()) == writes
    assert org.versions() == versions

    org.run(MOVED)
    assert org.user("f.elamrani@example.org")["active"] is True  # the joiner started
    assert org.groups_of("k.bakker@example.org") == {"department_HR"}  # the mover moved
    assert org.user("k.bakker@example.org")[ENTERPRISE]["department"] == "Hr"
    leaver = org.user("p.jansen@example.org")
    assert leaver["active"] is False
    assert org.groups_of("p.jansen@example.org") == set()
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}

    org.run(GONE)
    assert org.user("p.jansen@example.org") is None  # deleted 30 days after the disable
    assert not any(
        m.get("value") == leaver["id"] for g in org.all("/Groups") for m in g.get("members", [])
    )
    versions, writes = org.versions(), len(org.scim.writes())
    assert org.run(GONE)["counts"] == {}
    assert len(org.scim.writes()) == writes
    assert org.versions() == versions


def test_a_busy_server_fails_the_actions_it_refused_and_the_next_run_finishes(
    scim_org: ScimOrg,
) -> None:
    busy = {"on": True}

    async def gateway(scope: Any, receive: Any, send: Any) -> None:
        """Forward to the SCIM server; while busy, answer 503 to every group creation."""
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if busy["on"] and scope["method"] == "POST" and scope["path"].endswith("/Groups"):
            refusal = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "503", "detail": "Busy, try later"}'
            headers = [(b"content-type", b"application/scim+json"), (b"retry-after", b"1")]
            headers.append((b"content-length", str(len(refusal)).encode()))
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": refusal})
            return
        query = scope.get("query_string", b"").decode()
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() != b"host"}
        async with httpx.AsyncClient(base_url=scim_org.scim.root, timeout=30) as client:
            answer = await client.request(
                scope["method"],
                scope["path"] + (f"?{query}" if query else ""),
                content=body,
                headers=headers,
            )
        kept = [
            (k.encode(), v.encode())
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        kept.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": answer.content})

    with serve(gateway) as served:
        scim_org.env["SCIM_BASE_URL"] = f"{served.url}/v2"
        first = scim_org.run(JOINED, check=1)
        counts = first["counts"]
        assert counts["failed"] == {"resource": 5}  # one per department group: refused
        assert counts["skipped"] == {"grant": 8}  # the grants of the groups not made
        assert counts["done"]["create"] == 7  # everything else went on
        assert counts["done"]["correlate"] == 1
        assert scim_org.user("a.vanderberg@example.org")["active"] is True
        assert scim_org.groups_of("a.vanderberg@example.org") == {"ICT Admins"}
        audit = scim_org.idsync("audit", str(scim_org.pipeline), "--json").stdout
        assert "POST /Groups: HTTP 503: Busy, try later" in audit
        assert SCIM_TOKEN not in audit
        busy["on"] = False
        scim_org.run(JOINED)
    assert scim_org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
