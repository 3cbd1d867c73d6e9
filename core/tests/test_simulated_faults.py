"""The simulator toolkit's fault injection, driven over its control endpoint the way tests
and benchmarks drive it: the same seed gives the same faults, a new seed new ones."""

from __future__ import annotations

from typing import Any

import httpx
from idsync.sandbox.simulator import Simulated, serve


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _statuses(client: httpx.Client, seed: int) -> list[int]:
    answer = client.put("/__sim__/faults", json={"error_rate": 0.5, "seed": seed})
    answer.raise_for_status()
    return [client.get(f"/x/{i}").status_code for i in range(40)]


def test_setting_a_seed_over_http_decides_the_faults_that_follow() -> None:
    with serve(Simulated(_ok)) as server, httpx.Client(base_url=server.url) as client:
        first = _statuses(client, seed=7)
        other = _statuses(client, seed=8)
        again = _statuses(client, seed=7)
    assert {200} < set(first), "half the requests should fail"
    assert again == first
    assert other != first
