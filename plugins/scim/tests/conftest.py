"""Fixtures: a real scim2-server on 127.0.0.1 (one per test worker) and the plugin against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from idsync import HookContext, hookspecs
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
