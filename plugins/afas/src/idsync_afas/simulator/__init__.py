"""A simulator of AFAS Profit's REST API (ProfitRestServices), for tests and the sandbox.

Serves ``/profitrestservices/connectors/{name}``: the six standard GetConnectors
(``T4E_HelloID_*_v2``) with their Dutch field names, ``skip``/``take`` paging,
``orderbyfieldids`` and filters, and the ``KnEmployee`` and ``KnUser`` UpdateConnectors,
which change what the GetConnectors return and refuse a field set to its current value.
Authentication is the ``AfasToken`` header; errors are AFAS's
``{externalMessage, errorNumber, profitLogReference}`` bodies. Needs the ``[sandbox]`` extra.

Standalone: ``python -m idsync_afas.simulator --port 8400 --size 200 --seed 1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idsync.sandbox.simulator import SandboxApp

from idsync_afas.simulator._app import MOUNT, AfasSimulator
from idsync_afas.simulator._query import Fault, Query, parse_query
from idsync_afas.simulator._store import AfasData, afas_date
from idsync_afas.simulator._world import from_world

if TYPE_CHECKING:
    from idsync.sandbox.world import World

__all__ = [
    "MOUNT",
    "SANDBOX_TOKEN",
    "AfasData",
    "AfasSimulator",
    "Fault",
    "Query",
    "afas_date",
    "from_world",
    "parse_query",
    "sandbox_app",
]

SANDBOX_TOKEN = "<token><version>1</version><data>5A1D0B3C9E7F4A2B8C6D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D</data></token>"  # noqa: S105
"""The App-connector token the sandbox simulator accepts (a sandbox value, not a secret)."""


def sandbox_app(world: World, *, token: str = SANDBOX_TOKEN) -> SandboxApp:
    """The simulator seeded from ``world``, as ``idsync sandbox`` serves it."""
    simulator = AfasSimulator(from_world(world), token)
    return SandboxApp(
        name="afas",
        app=simulator.app,
        env={"AFAS_BASE_URL": "{url}", "AFAS_TOKEN": token},
        mount=MOUNT,
        summary=f"AFAS Profit: {len(world.persons)} employees, {len(world.departments)} units",
        data=simulator.data,
    )
