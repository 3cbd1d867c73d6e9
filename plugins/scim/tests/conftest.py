"""Fixtures: a real scim2-server on 127.0.0.1 (one per test worker) and the plugin against it.

scim2-server never refuses for load, so the refusals a production SCIM service sends (429
with ``Retry-After``, 503) come from :class:`Gateway`, an ASGI proxy on 127.0.0.1 in front of
it: a rule answers matching requests itself, a number of times; everything else is forwarded
unchanged. ``extra_query`` adds query parameters to forwarded requests of one method
(``excludedAttributes`` on PATCH makes scim2-server answer 200 with the resource, not 204).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from idsync import HookContext, hookspecs
from idsync.sandbox.simulator import SimulatorServer, serve
from idsync_scim import ScimPlugin, ScimSettings
from idsync_scim.testing import Scim2Server

TOKEN = "scim-test-token-5f1c2a9e"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

MakeSettings = Callable[..., ScimSettings]
MakeHook = Callable[..., Any]


@pytest.fixture(scope="session")
def scim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scim2Server]:
    """scim2-server with a bearer token, shared by the tests of one worker (stopped by pid)."""
    with Scim2Server(tmp_path_factory.mktemp("scim2-server"), token=TOKEN) as server:
        yield server


@pytest.fixture(scope="session")
def api(scim_server: Scim2Server) -> Iterator[httpx.Client]:
    """A plain HTTP client on the server, to arrange and inspect what tests need."""
    with scim_server.client() as client:
        yield client


@pytest.fixture(scope="session")
def staff_group(api: httpx.Client) -> str:
    """A group the contract kit grants and revokes; its id."""
    answer = api.post("/Groups", json={"schemas": [GROUP], "displayName": "Contract Staff"})
    answer.raise_for_status()
    return str(answer.json()["id"])


def settings_for(server: Scim2Server, **overrides: Any) -> ScimSettings:
    """Settings against ``server`` with quick retries; keywords override."""
    values: dict[str, Any] = {
        "base_url": server.url,
        "timeout": 10.0,
        "retries": 3,
        "backoff": 0.01,
        "max_backoff": 0.05,
    }
    if server.token is not None:
        values["token"] = server.token
    if server.basic is not None:
        values["username"], values["password"] = server.basic
    values.update(overrides)
    return ScimSettings.model_validate(values)


@pytest.fixture
def make_settings(scim_server: Scim2Server) -> MakeSettings:
    """Settings against the shared server; keywords override."""
    return lambda **overrides: settings_for(scim_server, **overrides)


def relay(plugin: ScimPlugin) -> Any:
    """A pluggy hook relay holding one configured plugin, as the engine builds it per target."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin)
    manager.check_pending()
    return manager.hook


@pytest.fixture
def make_hook(make_settings: MakeSettings) -> Iterator[MakeHook]:
    """Make a hook relay with settings (keywords override); plugins are closed at the end."""
    plugins: list[ScimPlugin] = []

    def make(**overrides: Any) -> Any:
        plugin = ScimPlugin(settings=make_settings(**overrides))
        plugins.append(plugin)
        return relay(plugin)

    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def hook_for() -> Iterator[Callable[..., Any]]:
    """Make a hook relay against a server of a test's own (``hook_for(server, **overrides)``)."""
    plugins: list[ScimPlugin] = []

    def make(server: Scim2Server, **overrides: Any) -> Any:
        plugin = ScimPlugin(settings=settings_for(server, **overrides))
        plugins.append(plugin)
        return relay(plugin)

    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def hook(make_hook: MakeHook) -> Any:
    """The hook relay with default settings."""
    return make_hook()


@pytest.fixture
def ctx() -> Callable[..., HookContext]:
    """Make a hook context for the target ``scim`` from keywords."""
    return lambda **values: HookContext(system="scim", **values)


@pytest.fixture
def add_user(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Put a user straight into the server (as an administrator would); the user as created."""

    def add(user_name: str, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [USER], "userName": user_name, "active": True}
        if any(k == ENTERPRISE for k in fields):
            body["schemas"] = [USER, ENTERPRISE]
        body.update(fields)
        answer = api.post("/Users", json=body)
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()
        return created

    return add


@pytest.fixture
def add_group(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Put a group straight into the server; the group as created."""

    def add(name: str, members: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        answer = api.post("/Groups", json=body)
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()
        return created

    return add


def scratch(tmp_path: Path, name: str) -> Path:
    """A folder for a server of a test's own."""
    folder = tmp_path / name
    folder.mkdir()
    return folder


@dataclass
class Rule:
    """Answer ``status`` to requests of ``method`` whose path contains ``path``, ``times`` times."""

    method: str
    path: str
    status: int
    times: int = 1_000_000
    retry_after: str | None = None
    body: dict[str, Any] | None = None
    hits: int = 0


@dataclass
class Gateway:
    """The proxy app; ``log`` holds (method, path, status) of every request it answered."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    extra_query: dict[str, str] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, method: str, path: str, status: int, **options: Any) -> Rule:
        """Add a rule; returns it (its ``hits`` count the refusals)."""
        rule = Rule(method, path, status, **options)
        self.rules.append(rule)
        return rule

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode()
        for rule in self.rules:
            if rule.method == method and rule.path in path and rule.hits < rule.times:
                rule.hits += 1
                payload = rule.body or {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": str(rule.status),
                    "detail": "The service is busy; try again later",
                }
                headers = [(b"content-type", b"application/scim+json")]
                if rule.retry_after is not None:
                    headers.append((b"retry-after", rule.retry_after.encode()))
                await self._answer(send, method, path, rule.status, headers, json.dumps(payload))
                return
        if method in self.extra_query:
            query = "&".join(q for q in (query, self.extra_query[method]) if q)
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length")
        }
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as client:
            answer = await client.request(
                method, path + (f"?{query}" if query else ""), content=body, headers=headers
            )
        passed = [
            (k.encode(), v.encode())
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        await self._answer(send, method, path, answer.status_code, passed, answer.content)

    async def _answer(
        self,
        send: Any,
        method: str,
        path: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: str | bytes,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.log.append((method, path, status))
        headers = [*headers, (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture
def gateway(scim_server: Scim2Server) -> Iterator[tuple[Gateway, SimulatorServer]]:
    """A gateway to the shared server, served on a free port: (the app, its server)."""
    app = Gateway(scim_server.root)
    with serve(app) as server:
        yield app, server
