"""Fixtures: a fresh TOPdesk simulator served on 127.0.0.1 per test, and plugins bound to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from idsync.simulator import LoggedRequest, RequestLog, Simulated, SimulatorServer, serve
from idsync_topdesk import TopdeskPlugin, TopdeskSettings
from idsync_topdesk.simulator import TopdeskSimulator

USERNAME = "api-idsync"
PASSWORD = "s3cret-application-password"

PluginFactory = Callable[..., TopdeskPlugin]


class _Arrivals:
    """Counts the API requests that reached the simulator (control endpoints aside)."""

    def __init__(self, app: Simulated) -> None:
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/__sim__"):
            with self.lock:
                self.count += 1
        await self.app(scope, receive, send)


class SettledLog(RequestLog):
    """A request log whose readers wait until every request that arrived is in it.

    ``Simulated`` appends a request to its log just after the answer has gone out, so a test
    can hold the answer before the entry exists; reading through this log closes that gap.
    """

    def __init__(self, arrivals: _Arrivals) -> None:
        super().__init__()
        self._arrivals = arrivals

    def _settle(self) -> None:
        deadline = time.monotonic() + 5
        while super().__len__() < self._arrivals.count and time.monotonic() < deadline:
            time.sleep(0.001)

    def all(self) -> list[LoggedRequest]:
        self._settle()
        return super().all()

    def clear(self) -> None:
        self._settle()
        with self._arrivals.lock:
            super().clear()
            self._arrivals.count = 0

    def __len__(self) -> int:
        self._settle()
        return super().__len__()


@pytest.fixture
def sim() -> TopdeskSimulator:
    """An environment with two branches, two departments and one budget holder."""
    sim = TopdeskSimulator.create(USERNAME, PASSWORD, seed=7)
    for branch in ("Baarn", "Utrecht"):
        sim.store.add_branch(branch)
    for department in ("ICT", "Personeelszaken"):
        sim.store.add_entry("departments", department)
    sim.store.add_entry("budgetholders", "Kostenplaats 100")
    return sim


@pytest.fixture
def server(sim: TopdeskSimulator) -> Iterator[SimulatorServer]:
    """The simulator on 127.0.0.1; its request log settles before it is read."""
    arrivals = _Arrivals(sim.app)
    sim.app.log = SettledLog(arrivals)
    with serve(arrivals) as server:
        yield server


@pytest.fixture
def make_plugin(server: SimulatorServer) -> PluginFactory:
    """A configured plugin; keyword arguments override settings (short backoff by default)."""

    def make(**overrides: Any) -> TopdeskPlugin:
        values: dict[str, Any] = {
            "base_url": server.url,
            "username": USERNAME,
            "password": PASSWORD,
            "retries": 2,
            "backoff": 0.01,
            "timeout": 5.0,
        }
        values.update(overrides)
        return TopdeskPlugin(settings=TopdeskSettings(**values))

    return make


@pytest.fixture
def plugin(make_plugin: PluginFactory) -> TopdeskPlugin:
    return make_plugin()


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    """A raw, authenticated client of the simulator."""
    with httpx.Client(base_url=server.url, auth=(USERNAME, PASSWORD), timeout=5) as client:
        yield client


@pytest.fixture
def seed(sim: TopdeskSimulator) -> Callable[..., dict[str, Any]]:
    """Seed a person with an employee number, in branch Baarn unless told otherwise."""

    def add(number: str, **fields: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "branch": "Baarn",
            "surName": f"Achternaam{number}",
            "firstName": f"Voornaam{number}",
            "employeeNumber": number,
        }
        values.update(fields)
        return sim.store.seed_person(**values)

    return add
