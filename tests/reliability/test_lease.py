"""The pipeline lock is a lease: renewed while its runner lives, taken over soon after it stops,
and fenced: a runner paused past its lease finds out before its next write (SIGSTOP, SIGCONT)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from idsync.state import Lease, LeaseLost, LockHeld, Store
from idsync.state import schema as t

TTL = dt.timedelta(seconds=3)

HOLDER = textwrap.dedent(
    """
    import datetime as dt, sys
    from idsync.state import Lease, LeaseLost, Store

    lease = Lease(Store(sys.argv[1]), "pipeline:p", dt.timedelta(seconds=3))
    print(lease.generation, flush=True)
    for line in sys.stdin:  # one check per line: the write it would guard
        try:
            lease.check()
            print("ok", flush=True)
        except LeaseLost as exc:
            print("lost:", exc, flush=True)
    """
)


def test_every_taking_raises_the_generation_and_a_stale_holder_cannot_renew(
    state_url: str,
) -> None:
    store = Store(state_url)
    first, gen1 = store.acquire_lease("pipeline:p", dt.timedelta(seconds=-1))  # expired at once
    second, gen2 = store.acquire_lease("pipeline:p", TTL)
    assert gen2 == gen1 + 1
    assert not store.renew_lease("pipeline:p", first, gen1, TTL)
    assert store.renew_lease("pipeline:p", second, gen2, TTL)
    store.release_lock("pipeline:p", second)
    assert store.lock_owner("pipeline:p") is None
    _, gen3 = store.acquire_lease("pipeline:p", TTL)
    assert gen3 == gen2 + 1  # a release keeps the generation: the next taker's is higher


def test_a_live_lease_is_renewed_past_its_ttl_and_released(state_url: str) -> None:
    store = Store(state_url)
    with Lease(store, "pipeline:p", TTL) as lease:
        time.sleep(TTL.total_seconds() * 1.7)  # past one ttl: only renewal keeps it
        lease.check()
        with pytest.raises(LockHeld):
            store.acquire_lease("pipeline:p", TTL)
    assert store.lock_owner("pipeline:p") is None


def test_a_lease_taken_over_fails_the_next_check_while_its_clock_still_runs(
    state_url: str,
) -> None:
    """The fencing token alone: the store says the lease expired (another host's clock, a
    renewal that never arrived) and another runner took it; the holder's own clock has not run
    out, yet its next check fails on the generation."""
    store = Store(state_url)
    lease = Lease(store, "pipeline:p", dt.timedelta(minutes=5))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                t.locks.update()
                .where(t.locks.c.name == "pipeline:p")
                .values(expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        store.acquire_lease("pipeline:p", TTL)
        with pytest.raises(LeaseLost, match="taken over"):
            lease.check()
    finally:
        lease.release()
    assert store.lock_owner("pipeline:p") is not None  # the loser did not release the winner's


def _holder(state_url: str) -> tuple[subprocess.Popen[str], int]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, state_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    return holder, int(holder.stdout.readline())


def _check(holder: subprocess.Popen[str]) -> str:
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write("write\n")
    holder.stdin.flush()
    return holder.stdout.readline().strip()


@pytest.mark.parametrize("taken_over", [True, False], ids=["taken-over", "ran-out"])
def test_a_runner_paused_past_its_lease_stops_before_its_next_write(
    state_url: str, taken_over: bool
) -> None:
    store = Store(state_url)
    holder, generation = _holder(state_url)
    try:
        assert _check(holder) == "ok"
        os.kill(holder.pid, signal.SIGSTOP)
        time.sleep(TTL.total_seconds() + 1.5)
        if taken_over:
            _, mine = store.acquire_lease("pipeline:p", dt.timedelta(minutes=5))
            assert mine == generation + 1
        os.kill(holder.pid, signal.SIGCONT)
        answer = _check(holder)
        assert answer.startswith("lost:"), answer
        if not taken_over:
            assert "ran out" in answer
        time.sleep(TTL.total_seconds() / 2)
        assert _check(holder).startswith("lost:")  # and it never comes back
        if not taken_over:  # the woken runner did not extend it: anyone may take it now
            assert store.lock_owner("pipeline:p") is None
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait(timeout=30)
