"""Fixtures: a simulated HelloID tenant on 127.0.0.1 and the plugin configured against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pluggy
import pytest
from idsync import HookContext, hookspecs
from idsync.sandbox.simulator import Simulated, SimulatorServer, serve
from idsync_helloid import HelloIDPlugin, HelloIDSettings
from idsync_helloid.simulator import HelloIDStore, simulate

API_KEY = "ABCDEGJKABCDEFGHIJKNQHUZLZTVWXYZ"
API_SECRET = "AbcDEBBaVNdkFgHiJKsWMYScVMtVWXYZ"

MakeSettings = Callable[..., HelloIDSettings]
MakeHook = Callable[..., Any]


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The simulator's API key and secret."""
    return API_KEY, API_SECRET


@pytest.fixture
def store() -> HelloIDStore:
    """An empty tenant with three groups and three products."""
    tenant = HelloIDStore(seed=7)
    for name in ("ICT Admins", "department_SALES", "department_HR"):
        tenant.create_group({"name": name, "isEnabled": True})
    for name, code in (("Laptop", "LAPTOP"), ("Mobile phone", "PHONE"), ("VPN access", "VPN")):
        tenant.add_product(name, code)
    return tenant


@pytest.fixture
def sim(store: HelloIDStore) -> Simulated:
    """The simulator over ``store``, with its request log and fault switches."""
    return simulate(store, api_key=API_KEY, api_secret=API_SECRET)


@pytest.fixture
def server(sim: Simulated) -> Iterator[SimulatorServer]:
    """The simulator served over real HTTP on 127.0.0.1."""
    with serve(sim) as running:
        yield running


@pytest.fixture
def make_settings(server: SimulatorServer) -> MakeSettings:
    """Settings against the served simulator, with quick retries; keywords override."""

    def make(**overrides: Any) -> HelloIDSettings:
        values: dict[str, Any] = {
            "base_url": f"{server.url}/api/v1",
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "timeout": 5.0,
            "retries": 3,
            "backoff": 0.01,
            "max_backoff": 0.05,
        }
        values.update(overrides)
        return HelloIDSettings.model_validate(values)

    return make


@pytest.fixture
def make_hook(make_settings: MakeSettings) -> Iterator[MakeHook]:
    """A pluggy hook relay holding one configured plugin, as the engine builds it per target."""
    plugins: list[HelloIDPlugin] = []

    def make(**overrides: Any) -> Any:
        plugin = HelloIDPlugin(settings=make_settings(**overrides))
        plugins.append(plugin)
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        manager.register(plugin)
        manager.check_pending()
        return manager.hook

    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def hook(make_hook: MakeHook) -> Any:
    """The hook relay with default settings."""
    return make_hook()


def _context(**values: Any) -> HookContext:
    return HookContext(system="helloid", **values)


@pytest.fixture
def ctx() -> Callable[..., HookContext]:
    """Make a hook context for the target ``helloid`` from keywords."""
    return _context


@pytest.fixture
def add_user(store: HelloIDStore) -> Callable[..., str]:
    """Put a user straight into the tenant; returns its userGUID."""

    def add(name: str, **fields: Any) -> str:
        body = {"userName": name, "firstName": name.split(".")[0].title(), "lastName": "Test"}
        body.update(fields)
        return str(store.create_user(body)["userGUID"])

    return add
