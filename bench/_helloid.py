"""The HelloID simulator in a process of its own, with latency and an optional rate limit.

Started as ``python -m idsync_helloid.simulator`` (an empty tenant); the groups the
benchmark grants are created over its API, and its request log is read at the end through
the simulator's control endpoint (``/__sim__/requests``), which no fault touches.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from _common import free_port, start_server
from _pipeline import HELLOID_KEY, HELLOID_SECRET

__all__ = ["HelloIDSim", "helloid_simulator"]


@dataclass
class HelloIDSim:
    """A running simulator: its root URL and the API's."""

    root: str

    @property
    def api(self) -> str:
        """The API root, as the plugin's ``base_url``."""
        return f"{self.root}/api/v1"

    def _client(self) -> httpx.Client:
        return httpx.Client(auth=(HELLOID_KEY, HELLOID_SECRET), timeout=30)

    def create_groups(self, names: Iterable[str]) -> None:
        """Create the groups the benchmark's rules grant."""
        with self._client() as client:
            for name in names:
                client.post(f"{self.api}/groups", json={"name": name}).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        """Every request the simulator answered so far."""
        with self._client() as client:
            answer = client.get(f"{self.root}/__sim__/requests")
            answer.raise_for_status()
            items: list[dict[str, Any]] = answer.json()
            return items

    def clear(self) -> None:
        """Forget the requests so far."""
        with self._client() as client:
            client.delete(f"{self.root}/__sim__/requests").raise_for_status()


def tally(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests by endpoint and status, writes, and 429s."""
    kinds: Counter[str] = Counter()
    for r in requests:
        path = r["path"].removeprefix("/api/v1")
        parts = path.strip("/").split("/")
        shape = "/".join(p if i % 2 == 0 else "{id}" for i, p in enumerate(parts))
        kinds[f"{r['method']} /{shape} {r['status']}"] += 1
    return {
        "requests": len(requests),
        "writes": sum(1 for r in requests if r["method"] not in ("GET", "HEAD")),
        "throttled": sum(1 for r in requests if r["status"] == 429),
        "by_endpoint": dict(sorted(kinds.items())),
    }


@contextlib.contextmanager
def helloid_simulator(
    latency: float = 0.0, rate_limit: float | None = None
) -> Iterator[HelloIDSim]:
    """An empty simulated tenant with ``latency`` seconds per request and a rate limit."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "idsync_helloid.simulator",
        "--port",
        str(port),
        "--api-key",
        HELLOID_KEY,
        "--api-secret",
        HELLOID_SECRET,
        "--latency",
        str(latency),
    ]
    if rate_limit:
        command += ["--rate-limit", str(rate_limit)]
    with start_server(command, "HelloID simulator listening"):
        yield HelloIDSim(f"http://127.0.0.1:{port}")
