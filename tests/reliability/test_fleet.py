"""A fleet on one PostgreSQL database: a control worker and three workers (subprocesses) run
pipelines over the simulators while one worker is killed (``kill -9``) in the middle of a run
and another is paused (``SIGSTOP``) past its lease and woken (``SIGCONT``). The queue, the
schedules and every pipeline's state share the one database, each pipeline in a schema of its
own (``state: {url: ${IDSYNC_FLEET}, per_pipeline: true}``).

At the end: every pipeline ran to ``done``; no job is left waiting or running; the simulators
received no second create for any person and no second grant of any group; no two runs of one
pipeline wrote at the same time; each pipeline's schema holds its own runs only; and what the
targets of every pipeline hold equals what a single-process run of the same organisation gives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from idsync.config import load_pipeline
from idsync.engine import Engine, run_status
from idsync.fleet.queue import RUN_TASK, Fleet, FleetError
from idsync.fleet.schedules import Schedules, read_env_file
from idsync.plugins import Registry
from idsync.sandbox import Sandbox
from idsync.schedule import Schedule
from idsync.state import Lease, Store
from idsync.state import schema as t
from idsync.state.shared import in_schema, pipeline_schema
from idsync_afas.plugin import AfasPlugin
from idsync_helloid.plugin import HelloIDPlugin
from reliability.fleet_pipeline import pipeline_text
from reliability.pgserver import PostgresServer
from support import IDSYNC

PIPELINES = int(os.environ.get("IDSYNC_FLEET_TEST_PIPELINES", "40"))
"""Pipelines in the fleet, of ``PERSONS`` each: 40 of 300 (about 3 minutes on two cores);
``IDSYNC_FLEET_TEST_PIPELINES`` and ``IDSYNC_FLEET_TEST_PERSONS`` make it smaller while
working on the fleet."""
PERSONS = int(os.environ.get("IDSYNC_FLEET_TEST_PERSONS", "300"))
LEASE = 4
LATENCY = 0.004
"""Seconds each HelloID request takes, so runs last long enough to be interrupted."""

FINISHED = ("done", "held")
"""How a pipeline's run may end: a threshold holds a large organisation's leavers (safe by
default), as it does in a single-process run."""


@dataclass
class Member:
    """One pipeline of the fleet: its simulators, files and state store."""

    name: str
    sandbox: Sandbox
    pipeline: Path
    env_file: Path
    state: str

    @property
    def helloid(self) -> Any:
        return self.sandbox.apps["helloid"].data

    def requests(self) -> list[Any]:
        return self.sandbox.apps["helloid"].app.log.writes()


def _sandbox(seed: int) -> Sandbox:
    sandbox = Sandbox(size=PERSONS, seed=seed, plugins=[AfasPlugin(), HelloIDPlugin()])
    return sandbox.start()


def _member(tmp: Path, index: int, state: str) -> Member:
    name = f"org{index:02d}"
    sandbox = _sandbox(index)
    sandbox.apps["helloid"].app.faults.latency = LATENCY
    pipeline = tmp / f"{name}.yaml"
    pipeline.write_text(pipeline_text(name, state))
    env_file = sandbox.write_env_file(tmp / f"{name}.env")
    return Member(name, sandbox, pipeline, env_file, state)


def _end_state(helloid: Any) -> dict[str, tuple[str, bool, frozenset[str]]]:
    """``{employeeId: (userName, enabled, groups)}`` of the users idsync manages."""
    found = {}
    for user in helloid.users.values():
        employee = (user.get("userAttributes") or {}).get("employeeId")
        if user.get("isDeleted") or not employee:
            continue
        groups = frozenset(helloid.memberships(user["userGUID"]))
        found[employee] = (user["userName"], bool(user.get("isEnabled")), groups)
    return found


def _single_process(
    tmp: Path, index: int
) -> tuple[dict[str, tuple[str, bool, frozenset[str]]], str]:
    """The end state of one plain run of the same organisation (SQLite, this process), and
    how the run ended (``done``, or ``held`` when a threshold held some of its work)."""
    sandbox = _sandbox(index)
    try:
        name = f"org{index:02d}"
        path = tmp / f"single-{name}.yaml"
        state = f"sqlite:///{tmp / f'single-{name}.db'}"
        path.write_text(pipeline_text(name, state))
        registry = Registry()
        engine = Engine(load_pipeline(path, registry, env=dict(sandbox.env)), registry)
        try:
            report = engine.run()
        finally:
            engine.close()
        assert report.error is None, report.error
        return _end_state(sandbox.apps["helloid"].data), run_status(report.exit_code)
    finally:
        sandbox.stop()


class Workers:
    """The worker subprocesses, stopped (SIGCONT, then SIGTERM, then SIGKILL) at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [str(IDSYNC), "--log-level", "INFO", "worker", "--name", name, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _jobs(fleet: sa.Engine) -> list[dict[str, Any]]:
    with fleet.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, status::text AS status, args, worker_id, lock, queue_name "
                "FROM procrastinate_jobs WHERE task_name = :task ORDER BY id"
            ),
            {"task": RUN_TASK},
        )
        return [dict(r._mapping) for r in rows]


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _wait_settled(
    what: str,
    check: Any,
    snapshot: Any,
    logs: Any,
    *,
    quiet: float = 180,
    cap: float = 900,
) -> None:
    """Wait until ``check()`` holds, as long as ``snapshot()`` keeps changing: a loaded machine
    makes the fleet slower, not stuck. Fails when nothing changed for ``quiet`` seconds (or
    after ``cap``), saying what the fleet looked like then and the end of ``logs()``."""
    started = last_change = time.monotonic()
    seen = snapshot()
    while not check():
        time.sleep(0.5)
        current = snapshot()
        if current != seen:
            seen, last_change = current, time.monotonic()
        clock = time.monotonic()
        if clock - last_change > quiet or clock - started > cap:
            raise AssertionError(
                f"timed out waiting for {what} ({clock - started:.0f} s, nothing changed for "
                f"{clock - last_change:.0f} s): {json.dumps(current, indent=1, default=str)}\n"
                f"{logs()}"
            )


def _doing_by_worker(fleet: sa.Engine) -> dict[int, str]:
    """``{procrastinate worker id: pipeline}`` of the runs in progress."""
    return {
        j["worker_id"]: j["args"]["pipeline"]
        for j in _jobs(fleet)
        if j["status"] == "doing" and j["worker_id"] is not None
    }


def _queue(pipeline: str) -> str:
    """Every fifth pipeline stands for a large organisation, on a queue of its own."""
    return "large" if int(pipeline.removeprefix("org")) % 5 == 4 else "pipelines"


def _at_least(found: dict[int, str], n: int) -> dict[int, str] | None:
    return found if len(found) >= n else None


def _worker_ids(fleet: sa.Engine) -> set[int]:
    with fleet.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT id FROM procrastinate_workers"))}


SHARED = '{url: "${IDSYNC_FLEET}", per_pipeline: true}'
"""Every pipeline's state: the fleet's database, in the pipeline's own schema."""


@pytest.fixture
def fleet_url(postgres: PostgresServer) -> str:
    return postgres.database()


@pytest.fixture
def members(tmp_path: Path, fleet_url: str) -> Iterator[list[Member]]:
    made: list[Member] = []
    try:
        for index in range(PIPELINES):
            member = _member(tmp_path, index, SHARED)
            member.state = in_schema(fleet_url, pipeline_schema(member.name))
            made.append(member)
        yield made
    finally:
        for member in made:
            member.sandbox.stop()


def _audit_spans(state: str) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """``{run id: (first write, last write)}`` of a pipeline's enforcing runs."""
    store = Store(state)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.audit.c.run_id, sa.func.min(t.audit.c.at), sa.func.max(t.audit.c.at))
                .where(~t.audit.c.dry_run)
                .group_by(t.audit.c.run_id)
            )
            return {r[0]: (r[1], r[2]) for r in rows}
    finally:
        store.close()


@pytest.mark.timeout(1200)
def test_a_fleet_survives_a_killed_and_a_paused_worker(
    tmp_path: Path, fleet_url: str, members: list[Member]
) -> None:
    env = {
        **os.environ,
        "IDSYNC_FLEET": fleet_url,
        "IDSYNC_FLEET_TICK": "1",
        "IDSYNC_FLEET_HEARTBEAT": "0.5",
        "IDSYNC_LEASE_SECONDS": str(LEASE),
    }
    # Pipelines are added through the command (the first, to prove it) and the library.
    first = members[0]
    added = subprocess.run(
        [
            str(IDSYNC),
            "schedule",
            "add",
            str(first.pipeline),
            "--every",
            "1h",
            "--env-file",
            str(first.env_file),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert "warning" not in added.stderr  # its state is in a schema of its own
    assert json.loads(added.stdout) == {"pipeline": "org00", "queue": "pipelines"}
    fleet_store = Store(fleet_url)
    schedules = Schedules(fleet_store)
    for member in members[1:]:
        schedules.add(
            member.name,
            member.pipeline,
            Schedule(every=dt.timedelta(hours=1)),
            env_file=member.env_file,
            queue=_queue(member.name),
        )
    listed = subprocess.run(
        [str(IDSYNC), "schedule", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert [p["pipeline"] for p in json.loads(listed.stdout)] == [m.name for m in members]
    # No secret went into the fleet's store: only paths.
    secrets = [v for m in members for k, v in read_env_file(m.env_file).items() if "KEY" in k]
    with fleet_store.engine.connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(sa.select(t.schedules))], default=str)
    assert secrets
    assert not any(secret in stored for secret in secrets)

    workers = Workers(env, tmp_path)
    try:
        engine = fleet_store.engine
        by_id: dict[int, subprocess.Popen[bytes]] = {}

        def start(name: str, *queues: str) -> None:
            """Start a worker and wait for its row: which procrastinate worker is which."""
            known = _worker_ids(engine)
            proc = workers.start(name, *(f"--queue={q}" for q in queues))
            new = _wait(f"worker {name}", lambda: _worker_ids(engine) - known, 90)
            assert len(new) == 1
            by_id[new.pop()] = proc

        start("control", "control")
        start("worker0", "pipelines")
        start("worker1", "pipelines")
        start("worker2", "large", "pipelines")  # the large organisations have their own queue

        # kill -9 a worker in the middle of a run.
        busy = _wait("three runs at once", lambda: _at_least(_doing_by_worker(engine), 3), 120)
        victim_id = sorted(busy)[0]
        killed_pipeline = busy[victim_id]
        victim = by_id[victim_id]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        # Keep three workers: a new one starts (procrastinate prunes the dead one's row).
        start("worker3", "large", "pipelines")

        # SIGSTOP another worker in the middle of a run, past its lease, then SIGCONT.
        busy = _wait(
            "a run on another worker",
            lambda: {w: p for w, p in _doing_by_worker(engine).items() if w != victim_id} or None,
            120,
        )
        paused_id = sorted(busy)[0]
        paused_pipeline = busy[paused_id]
        paused = by_id[paused_id]
        os.kill(paused.pid, signal.SIGSTOP)
        time.sleep(LEASE * 2 + 2)  # the sweep re-defers its run; another worker takes the lease
        os.kill(paused.pid, signal.SIGCONT)

        def finished() -> bool:
            jobs = _jobs(engine)
            done = {r.pipeline: r.last_status for r in schedules.all()}
            return not any(j["status"] in ("todo", "doing") for j in jobs) and all(
                s in FINISHED for s in done.values()
            )

        def snapshot() -> dict[str, Any]:
            """The jobs by status, and the pipelines whose last run did not end as expected."""
            return {
                "jobs": sorted(Counter(j["status"] for j in _jobs(engine)).items()),
                "unfinished": sorted(
                    (r.pipeline, r.last_status, r.last_error)
                    for r in schedules.all()
                    if r.last_status not in FINISHED
                ),
            }

        def logs() -> str:
            return "\n".join(
                f"--- {name}\n" + (tmp_path / f"{name}.log").read_text(errors="replace")[-1500:]
                for name in workers.procs
            )

        _wait_settled("every pipeline's run finished and the queue empty", finished, snapshot, logs)
        fleet_json = subprocess.run(
            [str(IDSYNC), "fleet", "--json"], env=env, capture_output=True, text=True, check=True
        )
    finally:
        workers.stop()

    # Nothing left waiting or running; every pipeline's last run is done and idle.
    status = json.loads(fleet_json.stdout)
    assert {s["pipeline"]: s["state"] for s in status} == {m.name: "idle" for m in members}
    last = {s["pipeline"]: s["last_status"] for s in status}
    jobs = _jobs(engine)
    per_pipeline = Counter(j["args"]["pipeline"] for j in jobs if j["status"] == "succeeded")
    assert per_pipeline == Counter({m.name: 1 for m in members}), jobs
    assert all(j["queue_name"] == _queue(j["args"]["pipeline"]) for j in jobs)
    failed = {j["args"]["pipeline"] for j in jobs if j["status"] == "failed"}
    assert killed_pipeline in failed  # swept, then run again
    assert paused_pipeline in failed

    for member in members:
        # 0 second creates, 0 second grants.
        writes = member.requests()
        creates = Counter(
            (r.body or {}).get("userAttributes", {}).get("employeeId")
            for r in writes
            if r.method == "POST" and r.path.endswith("/users") and r.status < 300
        )
        assert not [k for k, n in creates.items() if n > 1], (member.name, creates.most_common(3))
        grants = Counter(
            (r.path, json.dumps(r.body, sort_keys=True))
            for r in writes
            if r.method == "POST"
            and r.path.endswith("/groups")
            and "/users/" in r.path
            and r.status < 300
        )
        assert not [k for k, n in grants.items() if n > 1], (member.name, grants.most_common(3))
        # No two runs of a pipeline wrote at the same time.
        spans = sorted(_audit_spans(member.state).values())
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, (member.name, spans)

    # Each pipeline's state is in its own schema of the one database; the fleet's own schema
    # (the queue and the schedules) holds no pipeline's runs.
    with fleet_store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.runs)).scalar_one() == 0
    for member in members:
        store = Store(member.state, create=False)
        try:
            with store.engine.connect() as conn:
                runs = conn.execute(sa.select(t.runs.c.pipeline).distinct()).scalars().all()
        finally:
            store.close()
        assert runs == [member.name]

    # What the targets of every pipeline hold equals a single-process run of it, which ended
    # the same way: the killed and the paused pipeline's as well as the others.
    for member in members:
        index = int(member.name.removeprefix("org"))
        expected, how = _single_process(tmp_path, index)
        assert expected, "the organisation should have accounts"
        assert _end_state(member.helloid) == expected, member.name
        assert last[member.name] == how, member.name
    fleet_store.close()


def test_the_tick_defers_due_idle_pipelines_once_and_the_sweep_survives_a_waiting_run(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """In one process: the tick's two halves against the real queue. A dead worker's job
    whose pipeline already has a run waiting is closed (procrastinate's retry recipe fails
    there: upstream issue #1543), and one whose pipeline has none is deferred again."""
    fleet = Fleet(postgres.database())
    for name in ("acme", "globex"):
        fleet.schedules.add(name, tmp_path / f"{name}.yaml", Schedule(every=dt.timedelta(hours=1)))
    engine = fleet.store.engine

    def stall(pipeline: str) -> int:
        """Make the pipeline's waiting job a running one of a worker that stopped beating."""
        with engine.begin() as conn:
            dead = conn.execute(
                sa.text(
                    "INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (NOW() - INTERVAL '1 hour') RETURNING id"
                )
            ).scalar_one()
            return int(
                conn.execute(
                    sa.text(
                        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w "
                        "WHERE status = 'todo' AND args->>'pipeline' = :p RETURNING id"
                    ),
                    {"w": dead, "p": pipeline},
                ).scalar_one()
            )

    async def scenario() -> None:
        async with fleet.app.open_async():
            assert sorted(await fleet.defer_due()) == ["acme", "globex"]
            assert await fleet.defer_due() == []  # both waiting: nothing more
            stalled_acme, stalled_globex = stall("acme"), stall("globex")
            assert await fleet.defer_due() == []  # both running: the tick leaves them be
            found = fleet.schedules.get("acme")
            assert found is not None
            assert await fleet.defer(found)  # a run of acme waits behind the stalled one
            assert sorted(await fleet.sweep()) == sorted([stalled_acme, stalled_globex])

    asyncio.run(scenario())
    states = Counter((j["args"]["pipeline"], j["status"]) for j in _jobs(engine))
    assert states == Counter(
        {
            ("acme", "failed"): 1,
            ("acme", "todo"): 1,  # the one that was waiting: no second one
            ("globex", "failed"): 1,
            ("globex", "todo"): 1,  # deferred again by the sweep
        }
    )
    fleet.close()


def test_a_worker_taken_for_dead_while_paused_takes_no_job_when_it_wakes(
    tmp_path: Path, fleet_url: str
) -> None:
    """A worker paused past the stall timeout loses its registration to the next worker that
    starts (procrastinate prunes stalled workers then). Woken, it takes no job: it stops,
    saying why, and the job waits for a worker that is alive."""
    env = {**os.environ, "IDSYNC_FLEET": fleet_url, "IDSYNC_FLEET_HEARTBEAT": "0.5"}
    fleet = Fleet(fleet_url)
    fleet.schedules.add("acme", tmp_path / "acme.yaml", Schedule(every=dt.timedelta(hours=1)))
    engine = fleet.store.engine
    workers = Workers(env, tmp_path)
    try:
        paused = workers.start("paused", "--queue=pipelines")
        (paused_id,) = _wait("the worker's row", lambda: _worker_ids(engine), 90)
        os.kill(paused.pid, signal.SIGSTOP)
        time.sleep(3 * 0.5 + 1.5)  # past the stall timeout: three missed beats
        workers.start("other", "--queue=elsewhere")  # prunes the paused worker's row
        _wait("the paused worker pruned", lambda: paused_id not in _worker_ids(engine), 90)
        os.kill(paused.pid, signal.SIGCONT)

        async def defer() -> list[str]:
            async with fleet.app.open_async():
                return await fleet.defer_due()

        assert asyncio.run(defer()) == ["acme"]
        assert paused.wait(timeout=60) == 1
        log = (tmp_path / "paused.log").read_text()
        assert "worker paused was taken for dead" in log
        assert "took no job since and stops now" in log
        # The job was not taken: it waits, for no worker.
        assert [(j["status"], j["worker_id"]) for j in _jobs(engine)] == [("todo", None)]
        # A live worker takes it (it fails: the pipeline file is not there).
        workers.start("alive", "--queue=pipelines")
        _wait("the job taken", lambda: _jobs(engine)[0]["status"] == "failed", 90)
    finally:
        workers.stop()
        fleet.close()


def _small_member(tmp: Path, fleet: Fleet, persons: int, latency: float) -> Member:
    """Organisation ``org00`` of ``persons``, scheduled hourly in ``fleet``."""
    sandbox = Sandbox(size=persons, seed=7, plugins=[AfasPlugin(), HelloIDPlugin()]).start()
    sandbox.apps["helloid"].app.faults.latency = latency
    pipeline = tmp / "org00.yaml"
    pipeline.write_text(pipeline_text("org00", SHARED))
    env_file = sandbox.write_env_file(tmp / "org00.env")
    every = Schedule(every=dt.timedelta(hours=1))
    fleet.schedules.add("org00", pipeline, every, env_file=env_file)
    state = in_schema(fleet.url, pipeline_schema("org00"))
    return Member("org00", sandbox, pipeline, env_file, state)


def test_a_run_waits_while_a_live_runner_holds_the_lease_then_runs(
    tmp_path: Path, fleet_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker taken for dead while it was only slow goes on renewing its lease: the run
    deferred in its place waits as long as it lives (here three lease times), then runs."""
    monkeypatch.setenv("IDSYNC_FLEET", fleet_url)
    monkeypatch.setenv("IDSYNC_LEASE_SECONDS", "3")
    fleet = Fleet(fleet_url)
    member = _small_member(tmp_path, fleet, 20, 0.0)
    try:
        holder = Store(member.state)
        lease = Lease(holder, "pipeline:org00", dt.timedelta(seconds=3))
        released: list[dt.datetime] = []

        def release_later() -> None:
            time.sleep(9)
            released.append(dt.datetime.now(dt.UTC))
            lease.release()

        thread = threading.Thread(target=release_later)
        thread.start()
        try:
            assert fleet.run_one(member.name) == "done"
        finally:
            thread.join()
            holder.close()
        store = Store(member.state, create=False)
        try:
            with store.engine.connect() as conn:
                started = conn.execute(sa.select(t.runs.c.started)).scalars().all()
        finally:
            store.close()
        assert len(started) == 1
        assert started[0].replace(tzinfo=started[0].tzinfo or dt.UTC) >= released[0]
        assert _end_state(member.helloid)  # the run did its work
        found = fleet.schedules.get(member.name)
        assert found is not None
        assert found.last_status == "done"
    finally:
        fleet.close()
        member.sandbox.stop()


def test_a_run_that_lost_its_lease_is_deferred_again_at_once(
    tmp_path: Path, fleet_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose lease is taken from it (here by a manual runner) stops before its next
    write. No run of the pipeline started through the fleet since, so nobody else does its
    work: a new job is deferred at once instead of at the next due time, an hour away."""
    monkeypatch.setenv("IDSYNC_FLEET", fleet_url)
    fleet = Fleet(fleet_url)
    member = _small_member(tmp_path, fleet, 40, 0.3)
    try:
        thief = Store(member.state)

        def take_the_lease_mid_run() -> None:
            _wait("the run's first write", member.requests, 60)
            with thief.engine.begin() as conn:  # as if its lease had run out and been taken
                conn.execute(
                    t.locks.update()
                    .where(t.locks.c.name == "pipeline:org00")
                    .values(owner="elsewhere:1:1", generation=t.locks.c.generation + 1)
                )

        thread = threading.Thread(target=take_the_lease_mid_run)

        async def run() -> None:
            async with fleet.app.open_async():
                thread.start()
                with pytest.raises(FleetError, match=r"lost its lease .*deferred again"):
                    await fleet.run_task(pipeline=member.name)

        try:
            asyncio.run(run())
        finally:
            thread.join()
            thief.close()
        found = fleet.schedules.get(member.name)
        assert found is not None
        assert found.last_status == "stopped"
        assert "taken over" in (found.last_error or "")
        assert [(j["status"], j["args"]) for j in _jobs(fleet.store.engine)] == [
            ("todo", {"pipeline": member.name})
        ]
        assert member.requests()  # it was taken from the run part way
    finally:
        fleet.close()
        member.sandbox.stop()
