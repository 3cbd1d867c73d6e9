"""Counting writes: how the contract kit proves that a call changed nothing.

The kit asks the author's ``writes`` probe before and after a call; the probe returns the
writes seen so far, as a number or as a list (a list lets a failure show which requests they
were). :func:`simulator_writes` is that probe for any simulator built on
:class:`idsync.simulator.Simulated`, in-process or over HTTP (``GET /__sim__/requests``).
"""

from __future__ import annotations

import httpx

from idsync.simulator import CONTROL_PREFIX, LoggedRequest, Simulated

__all__ = ["describe_write", "simulator_writes"]


def simulator_writes(simulator: Simulated | str) -> list[LoggedRequest]:
    """Every request that could change data which the simulator has seen, oldest first.

    ``simulator`` is the :class:`~idsync.simulator.Simulated` app itself, or the base URL of
    one that is being served (``http://127.0.0.1:PORT``, mount or not: the control endpoints
    live at the server root). Faulted requests count too: a write that failed still tried.
    """
    if isinstance(simulator, Simulated):
        return simulator.log.writes()
    url = httpx.URL(simulator)
    with httpx.Client(timeout=10.0) as client:
        response = client.get(url.copy_with(path=f"{CONTROL_PREFIX}/requests", query=None))
        response.raise_for_status()
        entries = response.json()
    requests = [LoggedRequest(**entry) for entry in entries]
    return [r for r in requests if r.is_write]


def describe_write(item: object) -> str:
    """``PUT /api/users/7 -> 200`` for a logged request; ``str(item)`` for anything else."""
    if isinstance(item, LoggedRequest):
        query = f"?{item.query}" if item.query else ""
        return f"{item.method} {item.path}{query} -> {item.status}"
    return str(item)
