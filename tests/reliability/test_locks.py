"""Two runners started at once against one pipeline never enforce together: one carries out
the run, the other stops with the lock message and changes nothing. A runner killed while it
holds the lock does not block the next one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections import Counter
from typing import Any

from reliability.harness import on_state
from support import IDSYNC, Org

AS_OF = "2026-01-20"


class Gate:
    """Holds every request to the wrapped app until :meth:`open` (a target that hangs)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.opened = threading.Event()
        self.waiting = 0

    def open(self) -> None:
        self.opened.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.waiting += 1
        while not self.opened.is_set():
            await asyncio.sleep(0.01)
        await self.app(scope, receive, send)


def test_two_runners_never_enforce_at_once(org: Org, state_url: str) -> None:
    moved = on_state(org, state_url)  # a new, empty store: the runners also race to make it
    gate = Gate(org.helloid_sim.app)
    org.helloid_sim.app = gate
    command = [str(IDSYNC), "run", str(moved.pipeline), "--as-of", AS_OF, "--time-travel", "--json"]
    runners = [
        subprocess.Popen(
            command, env=moved.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    # One runner takes the lock and hangs on the target; the other must give up meanwhile.
    deadline = time.monotonic() + 90
    while all(r.poll() is None for r in runners) and time.monotonic() < deadline:
        time.sleep(0.02)
    stopped = [r for r in runners if r.poll() is not None]
    assert len(stopped) == 1, "neither runner gave up while the other held the lock"
    # The winner may still be reading the source when the loser gives up: give it time.
    deadline = time.monotonic() + 60
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.waiting > 0, "the runner holding the lock never reached the target"
    loser = stopped[0]
    _, err = loser.communicate()
    assert loser.returncode == 3, err
    assert "another runner" in err
    assert "is enforcing this pipeline" in err
    gate.open()
    winner = next(r for r in runners if r is not loser)
    out, err = winner.communicate(timeout=120)
    assert winner.returncode == 0, err
    result = json.loads(out)

    store = moved.store()
    try:
        runs = store.runs()
        audit = store.audit(limit=10_000)
    finally:
        store.close()
    assert [r["id"] for r in runs] == [result["run"]]  # the loser never started a run
    assert audit
    assert {r["run_id"] for r in audit} == {result["run"]}
    created = Counter(
        (r["target"], r["person"]) for r in audit if r["kind"] in ("create", "correlate")
    )
    assert all(n == 1 for n in created.values()), created
    users = Counter(u["userName"] for u in org.helloid.users.values() if not u["isDeleted"])
    assert all(n == 1 for n in users.values()), users


def test_a_lock_left_by_a_killed_runner_is_taken_over(org: Org, state_url: str) -> None:
    moved = on_state(org, state_url)
    org.helloid_sim.faults.latency = 0.03
    runner = subprocess.Popen(
        [str(IDSYNC), "run", str(moved.pipeline), "--as-of", AS_OF, "--time-travel"],
        env=moved.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not org.helloid_writes() and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.kill()
    runner.wait()
    store = moved.store()
    try:
        owner = store.lock_owner("pipeline:e2e")
    finally:
        store.close()
    assert owner is not None, "the killed runner held no lock"
    assert f":{runner.pid}:" in owner

    org.helloid_sim.faults.latency = 0.0
    assert moved.json("run", str(moved.pipeline), "--as-of", AS_OF)["exit_code"] == 0
    assert moved.json("run", str(moved.pipeline), "--as-of", AS_OF)["counts"] == {}
    store = moved.store()
    try:
        statuses = [r["status"] for r in store.runs()]
        assert store.lock_owner("pipeline:e2e") is None
    finally:
        store.close()
    assert statuses == ["done", "done", "crashed"]  # newest first; the killed run was closed
