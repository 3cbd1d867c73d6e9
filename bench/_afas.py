"""The AFAS side of the benchmarks: the simulator in a process of its own, and a timed plugin.

The simulator runs as ``python -m idsync_afas.simulator`` (its world generated from the
size and seed), so serving the rows never competes with the engine for the interpreter.
:class:`TimedAfas` is the AFAS plugin unchanged except that it counts the rows it reads and
the time spent inside its iterators (HTTP, JSON, joining the connectors, its own checks):
the source's share of an import, apart from the engine's.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from _common import free_port, start_server
from _pipeline import timed
from idsync import Blocked, HookContext, Person, hookimpl
from idsync_afas import AfasClient, AfasPlugin
from idsync_afas.simulator import MOUNT, SANDBOX_TOKEN

__all__ = ["ROWS_READ", "TimedAfas", "afas_env", "afas_simulator"]

ROWS_READ = [0]
"""Rows read from every GetConnector in this process."""


def _counting(client: AfasClient) -> None:
    original = client.rows

    def rows(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for row in original(*args, **kwargs):
            ROWS_READ[0] += 1
            yield row

    client.rows = rows  # type: ignore[method-assign]


class TimedAfas(AfasPlugin):
    """The AFAS plugin, with its reading time and rows counted."""

    def _api(self, ctx: HookContext | None = None) -> AfasClient:
        fresh = self._client is None
        client = super()._api(ctx)
        if fresh:
            _counting(client)
        return client

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[Person | Blocked]:
        """The plugin's persons, timed."""
        return timed(super().idsync_persons(ctx))

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> Iterator[dict[str, Any]]:
        """The plugin's departments, timed."""
        return timed(super().idsync_departments(ctx))

    def requests(self) -> int:
        """HTTP requests sent so far."""
        return self.stats["requests"]


@contextlib.contextmanager
def afas_simulator(size: int, seed: int = 1) -> Iterator[str]:
    """The AFAS simulator with a generated organisation of ``size`` persons; its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "idsync_afas.simulator",
        "--port",
        str(port),
        "--size",
        str(size),
        "--seed",
        str(seed),
    ]
    with start_server(command, "AFAS simulator on"):
        yield f"http://127.0.0.1:{port}{MOUNT}"


def afas_env(url: str) -> dict[str, str]:
    """Environment for an AFAS source at ``url``."""
    return {"AFAS_BASE_URL": url, "AFAS_TOKEN": SANDBOX_TOKEN}
