"""What the reliability tests share.

- :func:`big_org`: a generated organisation of 500 persons on the AFAS and HelloID simulators,
  driven through the ``idsync`` command, and :func:`check_agreement`, which asserts that
  HelloID, AFAS, the state store and the audit trail describe the same accounts. The pipeline
  is the AFAS → HelloID example with short timeouts and backoffs, so a run through injected
  faults takes seconds.
- :func:`on_state`: the hand-made organisation of ``tests/support.py`` with its state kept
  elsewhere (PostgreSQL).
- :class:`Rewrite`: a wrapper that makes a simulator answer chosen requests with something else.

Every pipeline's ``state:`` URL is SQLite or PostgreSQL, as the test asks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from idsync.sandbox.simulator import Faults, Simulated, SimulatorServer, serve
from idsync.sandbox.world import World, generate_world
from idsync.state import Store
from idsync_afas.simulator import MOUNT as AFAS_MOUNT
from idsync_afas.simulator import AfasSimulator, from_world
from idsync_helloid.simulator import HelloIDStore, seed_world, simulate
from support import IDSYNC, Org
from support import PIPELINE as SMALL_PIPELINE

TODAY = dt.date(2026, 1, 15)
AS_OF = TODAY.isoformat()
AFAS_TOKEN = "<token><version>1</version><data>R3L1AB1L1TYAFASTOKEN0123456789ABCDEF</data></token>"
HELLOID_KEY = "RELIABILITYKEYABCDEFGHIJKLMNOPQR"
HELLOID_SECRET = "Rel1abilitySecretXyzzyQwertyUiop"

PIPELINE = """
name: reliability
state: "__STATE__"
sources:
  hr:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", page_size: 200, timeout: __TIMEOUT__, retries: 6, backoff: 0.005, max_backoff: 0.03}
    thresholds: {removed: "5%", added: "50%", emptied: "10%"}
targets:
  helloid:
    plugin: helloid
    settings: {base_url: "${HELLOID_BASE_URL}", api_key: "${HELLOID_API_KEY}", api_secret: "${HELLOID_API_SECRET}", timeout: __TIMEOUT__, retries: 6, backoff: 0.005, max_backoff: 0.03, concurrency: 16}
    concurrency: 16
    account:
      when: "contract.department.code != 'EXT' and contract.type.code != 'EXT'"
      correlate: {person: account.userName, account: userName}
      unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
      mapping:
        firstName: "{{ person.name.first }}"
        lastName: "{{ person.name.full_family }}"
        contactEmail: "{{ person.contact.email }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        userAttributes.department: "{{ contract.department.name }}"
        userAttributes.title: "{{ contract.title.name }}"
      lifecycle: {create_days_before_start: 14, enable_days_before_start: 3, delete_days_after_disable: 30}
    permissions:
      - {dynamic: "group:department_{{ contract.department.code }}"}
      - {when: "(contract.fte or 0) >= 0.8", grant: "product:Laptop"}
    resources: ["group:department_{{ department.code }}"]
__TARGET_EXTRA__
  afas:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", timeout: __TIMEOUT__, retries: 6, backoff: 0.005, max_backoff: 0.03}
    concurrency: 8
    account:
      when: "contract.department.code != 'EXT' and contract.type.code != 'EXT'"
      correlate: {person: external_id, account: Medewerker}
      manager: false
      mapping:
        UPN: "{{ accounts.helloid.userName }}"
      lifecycle: {delete_days_after_disable: null}
"""


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite state file."""
    return f"sqlite:///{path}"


@dataclass
class Run:
    """One finished ``idsync`` command."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The parsed ``--json`` output."""
        return json.loads(self.stdout)


@dataclass
class BigOrg:
    """The simulators of one test, the pipeline over them and its state store."""

    world: World
    afas: AfasSimulator
    helloid: HelloIDStore
    helloid_sim: Simulated
    servers: dict[str, SimulatorServer]
    pipeline: Path
    state: str
    env: dict[str, str]
    timeout: float = 2.0
    runs: list[Run] = field(default_factory=list)

    def write_pipeline(self, target_extra: str = "") -> Path:
        """(Re)write the pipeline file; ``target_extra`` goes under the HelloID target."""
        text = (
            PIPELINE.replace("__STATE__", self.state)
            .replace("__TIMEOUT__", str(self.timeout))
            .replace("__TARGET_EXTRA__", target_extra)
        )
        self.pipeline.write_text(text, encoding="utf-8")
        return self.pipeline

    def idsync(self, *args: str, timeout: float = 240) -> Run:
        """Run the ``idsync`` command as a subprocess with the simulators' environment."""
        done = subprocess.run(
            [str(IDSYNC), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        run = Run(tuple(args), done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        return run

    def run(self, *extra: str) -> Run:
        """``idsync run PIPELINE --as-of TODAY --time-travel --json``."""
        return self.idsync(
            "run", str(self.pipeline), "--as-of", AS_OF, "--time-travel", "--json", *extra
        )

    def plan(self, *extra: str) -> Run:
        """``idsync plan PIPELINE --as-of TODAY --json``."""
        return self.idsync("plan", str(self.pipeline), "--as-of", AS_OF, "--json", *extra)

    def store(self) -> Store:
        """The pipeline's state store (close it after use)."""
        return Store(self.state)

    def quiet(self) -> None:
        """No faults any more, in either simulator."""
        for sim in (self.afas.app, self.helloid_sim):
            sim.faults.update(
                {
                    "error_rate": 0.0,
                    "timeout_rate": 0.0,
                    "drop_rate": 0.0,
                    "rate_limit": None,
                    "latency": 0.0,
                }
            )

    @contextmanager
    def rate_limit_bursts(
        self, every: float = 1.5, length: float = 0.2, rate: float = 5.0
    ) -> Iterator[None]:
        """Bursts of 429s: every ``every`` seconds, for ``length`` seconds, both simulators
        answer 429 with ``Retry-After`` above ``rate`` requests a second."""
        stop = threading.Event()

        def toggle() -> None:
            while not stop.wait(every):
                for sim in (self.afas.app, self.helloid_sim):
                    sim.faults.rate_limit = rate
                stop.wait(length)
                for sim in (self.afas.app, self.helloid_sim):
                    sim.faults.rate_limit = None

        thread = threading.Thread(target=toggle, name="429-bursts", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            for sim in (self.afas.app, self.helloid_sim):
                sim.faults.rate_limit = None

    def clear_logs(self) -> None:
        """Forget the requests both simulators saw so far."""
        self.afas.app.log.clear()
        self.helloid_sim.log.clear()

    def target_writes(self) -> list[Any]:
        """Write requests either simulator received (AFAS is also the write-back target)."""
        return self.helloid_sim.log.writes() + self.afas.app.log.writes()


@contextmanager
def big_org(
    tmp_path: Path, state: str | None = None, *, size: int = 500, seed: int = 20260115
) -> Iterator[BigOrg]:
    """A generated organisation of ``size`` persons on AFAS and HelloID simulators (127.0.0.1)."""
    world = generate_world(size=size, seed=seed, today=TODAY)
    afas = AfasSimulator(from_world(world), AFAS_TOKEN, faults=Faults(seed=seed))
    store = HelloIDStore(seed=seed)
    seed_world(store, world)
    sim = simulate(
        store, api_key=HELLOID_KEY, api_secret=HELLOID_SECRET, faults=Faults(seed=seed + 1)
    )
    with ExitStack() as stack:
        afas_server = stack.enter_context(serve(afas.app))
        helloid_server = stack.enter_context(serve(sim))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "HELLOID_"))},
            "AFAS_BASE_URL": afas_server.url + AFAS_MOUNT,
            "AFAS_TOKEN": AFAS_TOKEN,
            "HELLOID_BASE_URL": helloid_server.url + "/api/v1",
            "HELLOID_API_KEY": HELLOID_KEY,
            "HELLOID_API_SECRET": HELLOID_SECRET,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "NO_COLOR": "1",
        }
        org = BigOrg(
            world=world,
            afas=afas,
            helloid=store,
            helloid_sim=sim,
            servers={"afas": afas_server, "helloid": helloid_server},
            pipeline=tmp_path / "pipeline.yaml",
            state=state or sqlite_url(tmp_path / "state.db"),
            env=env,
        )
        org.write_pipeline()
        yield org


# --- agreement between HelloID, the state store and the audit trail ----------------------


def _replay(audit: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """The accounts and permissions the audit trail says exist: ``done`` records, in order."""
    references: dict[str, str] = {}
    permissions: dict[str, set[str]] = defaultdict(set)
    for record in sorted(audit, key=lambda r: r["id"]):
        if record["status"] != "done" or record["dry_run"] or record["person"] is None:
            continue
        person, kind = record["person"], record["kind"]
        if kind in ("create", "correlate") and record["reference"]:
            references[person] = record["reference"]
        elif kind == "delete":
            references.pop(person, None)
            permissions.pop(person, None)
        elif kind == "grant":
            permissions[person].add(record["key"])
        elif kind == "revoke":
            permissions[person].discard(record["key"])
    return references, {p: keys for p, keys in permissions.items() if p in references}


def helloid_permissions(store: HelloIDStore, guid: str) -> Counter[str]:
    """``kind:name`` of each group membership and product assignment of a user, counted."""
    held: Counter[str] = Counter(f"group:{g}" for g in store.memberships(guid))
    held.update(f"product:{p}" for p in store.products_of(guid))
    return held


def check_agreement(org: BigOrg) -> dict[str, Any]:
    """Assert that HelloID, the state store and the audit trail describe the same accounts.

    Every managed person has exactly one (not deleted) HelloID user, the one the store and the
    audit trail name; the audit trail, replayed, grants exactly what the store records, and
    HelloID holds each of those (and every permission at all) exactly once. HelloID may hold
    more: memberships made by hand before idsync, which it does not manage. AFAS carries each
    managed employee's HelloID user name. Returns a few figures for the caller.
    """
    store = org.store()
    try:
        shadows = store.accounts("helloid")
        audit = store.audit(target="helloid", limit=1_000_000)
    finally:
        store.close()
    users = [u for u in org.helloid.users.values() if not u["isDeleted"]]
    per_person = Counter(u.get("userAttributes", {}).get("employeeId") for u in users)
    duplicated = {p: n for p, n in per_person.items() if p and n > 1}
    assert not duplicated, f"persons with more than one HelloID user: {duplicated}"
    names = Counter(g["name"] for g in org.helloid.groups.values())
    assert all(n == 1 for n in names.values()), f"duplicate groups: {names}"

    references, granted = _replay(audit)
    assert references == {p: s.reference for p, s in shadows.items()}, (
        "the audit trail's accounts differ from the state store's"
    )
    for pid, shadow in shadows.items():
        assert shadow.reference is not None, pid
        user = org.helloid.users[shadow.reference]
        assert not user["isDeleted"], pid
        assert user["userAttributes"].get("employeeId") == pid
        held = helloid_permissions(org.helloid, shadow.reference)
        assert all(n == 1 for n in held.values()), f"{pid} holds a permission twice: {held}"
        assert set(shadow.permissions) <= set(held), (pid, shadow.permissions, held)
        assert granted.get(pid, set()) == set(shadow.permissions), pid
    _check_write_back(org, {p: s.data.get("userName") for p, s in shadows.items()})
    return {"accounts": len(shadows), "audit": len(audit), "shadows": set(shadows)}


def _check_write_back(org: BigOrg, user_names: Mapping[str, Any]) -> None:
    """Every AFAS employee idsync manages carries its HelloID user name as UPN."""
    store = org.store()
    try:
        shadows = store.accounts("afas")
    finally:
        store.close()
    assert shadows, "no AFAS employee is managed"
    for pid, shadow in shadows.items():
        employee = org.afas.data.employee(pid)
        assert employee is not None, pid
        user = org.afas.data.user_of(employee["Persoonsnummer"])
        assert user is not None, pid
        assert user["UPN"] == shadow.data["UPN"] == user_names.get(pid), pid


def recorded_runs(org: BigOrg) -> list[dict[str, Any]]:
    """Every run with its counts as the run recorded them and as the audit trail has them."""
    store = org.store()
    try:
        runs = store.runs(limit=1000)
        for run in runs:
            run["audit_counts"] = store.audit_counts(run["id"])
    finally:
        store.close()
    return sorted(runs, key=lambda r: r["id"])


# --- the hand-made organisation of tests/support.py, on any state store ------------------


@dataclass
class StatefulOrg(Org):
    """:class:`support.Org` whose pipeline keeps its state at ``state`` (SQLite or PostgreSQL)."""

    state: str = ""

    def write_pipeline(self, extra: str = "") -> Path:
        """(Re)write the pipeline file with this org's state URL."""
        marker = "state: sqlite:///__DB__"
        assert marker in SMALL_PIPELINE, "tests/support.py no longer names its state store"
        text = SMALL_PIPELINE.replace(marker, f'state: "{self.state}"').replace("__EXTRA__", extra)
        self.pipeline.write_text(text, encoding="utf-8")
        return self.pipeline

    def store(self) -> Store:
        """The pipeline's state store (close it after use)."""
        return Store(self.state)


def on_state(org: Org, state: str) -> StatefulOrg:
    """The same simulators and pipeline as ``org``, with the state kept at ``state``."""
    moved = StatefulOrg(**{f.name: getattr(org, f.name) for f in fields(Org)}, state=state)
    moved.write_pipeline()
    return moved


# --- answers that are not what the API should say ----------------------------------------


@dataclass
class Reply:
    """A replacement answer. ``{authorization}`` in the body becomes the request's own
    Authorization header (a server that echoes credentials). ``perform``: the request is
    carried out first and only its answer replaced."""

    status: int
    content_type: str
    body: bytes
    perform: bool = True


class Rewrite:
    """Wraps an ASGI app and replaces the answers of chosen requests.

    A request is chosen by ``(method, path)`` (the path unquoted) or by
    ``(method, "userName=<name>")`` for a JSON body with that ``userName``.
    """

    def __init__(self, app: Any, replies: Mapping[tuple[str, str], Reply]) -> None:
        self.app = app
        self.replies = dict(replies)
        self.used: Counter[tuple[str, str]] = Counter()

    def _choose(self, method: str, path: str, body: bytes) -> tuple[str, str] | None:
        if (method, path) in self.replies:
            return method, path
        if body:
            try:
                name = json.loads(body).get("userName")
            except (ValueError, AttributeError):
                name = None
            if (method, f"userName={name}") in self.replies:
                return method, f"userName={name}"
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        key = self._choose(scope["method"], unquote(scope["path"]), body)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        if key is None:
            await self.app(scope, replay, send)
            return
        reply = self.replies[key]

        async def swallow(_message: Any) -> None:
            return None

        if reply.perform:
            await self.app(scope, replay, swallow)
        self.used[key] += 1
        headers = dict(scope.get("headers") or [])
        data = reply.body.replace(b"{authorization}", headers.get(b"authorization", b""))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", reply.content_type.encode()),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
