"""Scheduled runs through the CLI: no overlap, the store's lock between runners, a status line
per run, and a graceful stop on SIGTERM that finishes the actions in flight."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from idsync.schedule import Schedule
from support import IDSYNC, Org, state

T0 = dt.datetime(2026, 1, 20, 10, 7, tzinfo=dt.UTC)


def test_intervals_and_cron_expressions_give_the_next_start() -> None:
    hourly = Schedule.parse("1h", None)
    assert hourly.first(T0) == T0
    assert hourly.next_after(T0, T0 + dt.timedelta(minutes=20)) == T0 + dt.timedelta(hours=1)
    # A run that overran two ticks skips them: the next start is the first tick after it.
    assert hourly.next_after(T0, T0 + dt.timedelta(hours=2, minutes=5)) == T0 + dt.timedelta(
        hours=3
    )
    assert Schedule.parse("1h30m", None).every == dt.timedelta(minutes=90)
    quarter = Schedule.parse(None, "*/15 * * * *")
    assert quarter.first(T0) == T0.replace(minute=15)
    assert quarter.next_after(T0, T0.replace(minute=31)) == T0.replace(minute=45)
    for every, cron in (("5x", None), ("0s", None), (None, "every day"), ("1h", "* * * * *")):
        with pytest.raises(ValueError, match=r"--every|--cron"):
            Schedule.parse(every, cron)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "soon"], "is not an interval such as 30s"),
        (["--cron", "61 * * * *"], "is not a cron expression"),
        (["--every", "1h", "--approve", "delete"], "--approve cannot be scheduled"),
    ],
)
def test_bad_schedules_are_refused(org: Org, args: list[str], message: str) -> None:
    result = org.idsync("run", str(org.pipeline), *args, check=2)
    assert message in result.stderr


class _Runner:
    """``idsync run --every`` in the background, its output in files."""

    def __init__(self, org: Org, tmp: Path, *args: str) -> None:
        self.out, self.err = tmp / "out.txt", tmp / "err.txt"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [str(IDSYNC), "run", str(org.pipeline), *args],
                env=org.env,
                stdout=out,
                stderr=err,
            )

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def wait_for(self, what: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert self.process.poll() is None, f"exited early:\n{self.stdout()}\n{self.stderr()}"
            assert time.monotonic() < deadline, f"timed out:\n{self.stdout()}\n{self.stderr()}"
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def test_a_runner_skips_ticks_while_another_holds_the_lock_and_stops_on_sigterm(
    org: Org, tmp_path: Path
) -> None:
    store = state(org)
    try:
        owner = store.acquire_lock("pipeline:e2e")  # another runner is enforcing
        runner = _Runner(org, tmp_path, "--every", "1s")
        runner.wait_for(lambda: runner.stderr().count("tick skipped") >= 2)
        assert org.helloid_writes() == []
        assert "another runner" in runner.stderr()
        store.release_lock("pipeline:e2e", owner)
        runner.wait_for(lambda: " done in " in runner.stdout())
        first = runner.stdout().splitlines()[0]
        assert " run 1 done in " in first
        assert "create" in first
        assert "; next at " in first
        assert runner.stop() == 0
        runs = store.runs("e2e")
        assert store.lock_owner("pipeline:e2e") is None
    finally:
        store.close()
    assert all(r["status"] == "done" for r in runs)
    assert [r["id"] for r in runs] == list(range(len(runs), 0, -1))  # one at a time


def test_sigterm_mid_run_finishes_the_actions_in_flight_and_records_a_stopped_run(
    org: Org, tmp_path: Path
) -> None:
    org.helloid_sim.faults.latency = 0.05  # slow enough to be stopped half-way
    runner = _Runner(org, tmp_path, "--every", "1h")
    runner.wait_for(lambda: len(org.helloid_writes()) >= 6)
    assert runner.stop() == 0
    assert " run 1 stopped in " in runner.stdout()
    assert "SIGTERM received" in runner.stderr()
    org.helloid_sim.faults.latency = 0.0

    store = state(org)
    try:
        [run] = store.runs("e2e")
        assert run["status"] == "stopped"
        assert store.lock_owner("pipeline:e2e") is None
        stopped = store.audit(run_id=run["id"], limit=1000)
    finally:
        store.close()
    assert {r["status"] for r in stopped} == {"done"}  # nothing half-done or failed
    finished = org.json("run", str(org.pipeline))
    assert sum(finished["counts"]["done"].values()) > 0  # the rest was left for this run
    users = [u for u in org.helloid.users.values() if not u["isDeleted"]]
    per_person = Counter(u.get("userAttributes", {}).get("employeeId") for u in users)
    assert all(n == 1 for p, n in per_person.items() if p), per_person
