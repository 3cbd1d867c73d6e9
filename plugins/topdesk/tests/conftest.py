"""Fixtures: a fresh TOPdesk simulator served on 127.0.0.1 per test, and plugins bound to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from idsync.sandbox.simulator import SimulatorServer, serve
from idsync_topdesk import TopdeskPlugin, TopdeskSettings
from idsync_topdesk.simulator import TopdeskSimulator

USERNAME = "api-idsync"
PASSWORD = "s3cret-application-password"

PluginFactory = Callable[..., TopdeskPlugin]


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
    """The simulator on 127.0.0.1 (it logs each request before answering it)."""
    with serve(sim.app) as server:
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
