"""A fleet of pipelines: time for workers to finish them all, against the ideal.

``N`` pipelines of ``P`` synthetic persons each (their own AFAS and HelloID simulators in this
process, HelloID answering every request after ``--latency`` seconds: a rate-limited target)
are added to a fleet on a throwaway PostgreSQL server, with ``W`` workers (subprocesses) and a
control worker already running; every pipeline keeps its state in the fleet's database, in a
schema of its own. The clock runs from the schedules being added to the last run finished.
*Ideal* is ``N × t1 / W``: ``t1`` is one plain ``idsync run`` of a same-sized organisation
alone (measured first), keeping its state the same way (a schema of its own in the same
PostgreSQL server), so the ideal assumes perfect packing and no contention. The second
scenario kills one worker (``kill -9``) once a third of the runs are done; its ideal is the
time of the kill plus the runs not yet finished then, on ``W - 1`` workers. The killed worker is
reaped at once, as a supervisor would: on one host its run's lease is then known to be dead and
taken over at once (from another host, the run again waits for the lease to run out).

The simulators share this process's CPU with the workers: on a machine with fewer cores than
the runs need, ``N × t1 / W`` cannot be reached by any scheduler. So the CPU is counted too:
``c1`` is the CPU one run takes in a warm process (the engine's run, without the process start
a worker does not pay per run) plus the simulators' and PostgreSQL's CPU for it, and *the
machine's bound* is ``N × c1 / cores``. *Ideal here* is the larger of the two; the report
gives the fleet's time against both, with the CPU the workers, the simulators and PostgreSQL
used and the machine's load average.
``--workers 1`` measures the fleet's own overhead (one worker, no kill scenario).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import ROOT, emit

sys.path.insert(0, str(ROOT / "tests"))  # the test servers: one way to run PostgreSQL for all
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
from fleet_pipeline import pipeline_text
from idsync.fleet import Schedules
from idsync.sandbox import Sandbox
from idsync.schedule import Schedule
from idsync.state import Store
from pgserver import PostgresServer

IDSYNC = Path(sys.executable).with_name("idsync")


def _organisation(
    work: Path, name: str, seed: int, persons: int, latency: float, state: str
) -> tuple[Sandbox, Path, Path]:
    from idsync_afas.plugin import AfasPlugin
    from idsync_helloid.plugin import HelloIDPlugin

    sandbox = Sandbox(size=persons, seed=seed, plugins=[AfasPlugin(), HelloIDPlugin()]).start()
    sandbox.apps["helloid"].app.faults.latency = latency
    pipeline = work / f"{name}.yaml"
    pipeline.write_text(pipeline_text(name, state, thresholds=False))
    return sandbox, pipeline, sandbox.write_env_file(work / f"{name}.env")


_WARM_RUN = """
import json, sys, time
from idsync.config import load_pipeline
from idsync.engine import Engine
from idsync.plugins import Registry
registry = Registry()
engine = Engine(load_pipeline(sys.argv[1], registry), registry)
wall, cpu = time.perf_counter(), time.process_time()
report = engine.run()
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "exit": report.exit_code}))
"""
"""One run in a process whose imports are done, as in a worker: its wall and CPU seconds."""


def _cpu_of(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds the running processes used so far (``/proc/PID/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in procs:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended (the killed worker): its CPU so far is lost from the count
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _postgres_cpu(server: PostgresServer) -> float:
    """CPU seconds the PostgreSQL server used so far: the postmaster, its live children, and
    the children it has reaped (backends of closed connections)."""
    assert server.root is not None
    postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        pid = int(stat.parent.name)
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / ticks  # its own, and reaped children
        elif int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _single(work: Path, server: PostgresServer, persons: int, latency: float) -> dict[str, float]:
    """One plain ``idsync run`` of an organisation alone (``seconds``: its wall time, process
    start included), then one run in a warm process (``warm``: its wall time; ``cpu``: its
    CPU and the simulators' and PostgreSQL's for it). Each keeps its state as the fleet's
    pipelines do: in a schema of its own of a database on ``server``."""
    out: dict[str, float] = {}
    shared = '{url: "${IDSYNC_FLEET}", per_pipeline: true}'
    database = server.database()
    for name in ("single", "warm"):
        sandbox, pipeline, _ = _organisation(work, name, 10_000, persons, latency, shared)
        command = (
            [str(IDSYNC), "run", str(pipeline)]
            if name == "single"
            else [sys.executable, "-c", _WARM_RUN, str(pipeline)]
        )
        try:
            started, simulators = time.perf_counter(), time.process_time()
            postgres = _postgres_cpu(server)
            done = subprocess.run(
                command,
                env={**os.environ, **sandbox.env, "IDSYNC_FLEET": database},
                capture_output=True,
                text=True,
                check=False,
            )
            took = time.perf_counter() - started
            simulators = time.process_time() - simulators + _postgres_cpu(server) - postgres
            if done.returncode not in (0, 3):
                raise RuntimeError(f"the {name} run failed: {done.stderr[-2000:]}")
        finally:
            sandbox.stop()
        if name == "single":
            out["seconds"] = took
        else:
            warm = json.loads(done.stdout.strip().splitlines()[-1])
            out["warm"] = warm["wall"]
            out["cpu"] = warm["cpu"] + simulators
    return out


def _worker_ids(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT id FROM procrastinate_workers"))}


def _finished(engine: sa.Engine) -> tuple[int, int]:
    """(runs finished, jobs waiting or running)."""
    with engine.connect() as conn:
        done = conn.execute(
            sa.text("SELECT count(*) FROM schedules WHERE last_finish IS NOT NULL")
        ).scalar_one()
        open_jobs = conn.execute(
            sa.text(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name = 'idsync.run_pipeline'"
            )
        ).scalar_one()
    return int(done), int(open_jobs)


def _scenario(
    work: Path,
    server: PostgresServer,
    *,
    pipelines: int,
    persons: int,
    workers: int,
    latency: float,
    kill: bool,
    limit: float,
) -> dict[str, Any]:
    fleet_url = server.database()
    fleet_store = Store(fleet_url)
    env = {
        **os.environ,
        "IDSYNC_FLEET": fleet_url,
        "IDSYNC_FLEET_TICK": "1",
        "IDSYNC_FLEET_HEARTBEAT": "1",
    }
    shared = '{url: "${IDSYNC_FLEET}", per_pipeline: true}'  # one database, a schema each
    orgs = [
        _organisation(work, f"org{i:03d}", i, persons, latency, shared) for i in range(pipelines)
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The fleet's schema exists before the workers race for it; then the workers start.
        from idsync.fleet.queue import Fleet

        Fleet(fleet_url).close()
        for n in range(workers + 1):
            queue = "control" if n == 0 else "pipelines"
            procs.append(
                subprocess.Popen(
                    [str(IDSYNC), "worker", "--queue", queue, "--name", f"w{n}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(work / f"w{n}.log").open("wb"),
                )
            )
        deadline = time.monotonic() + 120
        while len(_worker_ids(fleet_store.engine)) < workers + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        schedules = Schedules(fleet_store)
        workers_cpu, simulators_cpu = _cpu_of(procs), time.process_time()
        postgres_cpu = _postgres_cpu(server)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        for (_, pipeline, env_file), i in zip(orgs, range(pipelines), strict=True):
            schedules.add(
                f"org{i:03d}", pipeline, Schedule(every=dt.timedelta(hours=1)), env_file=env_file
            )
        killed_at: float | None = None
        done_at_kill = 0
        while True:
            done, open_jobs = _finished(fleet_store.engine)
            if kill and killed_at is None and done >= pipelines // 3:
                procs[1].send_signal(signal.SIGKILL)
                procs[1].wait()  # reaped: its lease's owner is known dead on this host
                killed_at, done_at_kill = time.perf_counter() - started, done
            if done >= pipelines and open_jobs == 0:
                break
            if time.perf_counter() - started > limit:
                raise RuntimeError(f"the fleet did not finish: {done} of {pipelines} done")
            time.sleep(0.2)
        took = time.perf_counter() - started
        workers_cpu = _cpu_of(procs) - workers_cpu
        simulators_cpu = time.process_time() - simulators_cpu
        postgres_cpu = _postgres_cpu(server) - postgres_cpu
        load = max(load, os.getloadavg()[0])
        statuses = [s.last_status for s in schedules.all()]
        with fleet_store.engine.connect() as conn:
            swept = conn.execute(
                sa.text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed' "
                    "AND task_name = 'idsync.run_pipeline'"
                )
            ).scalar_one()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sandbox, _, _ in orgs:
            sandbox.stop()
        fleet_store.close()
    return {
        "seconds": round(took, 2),
        "cpu_workers": round(workers_cpu, 1),
        "cpu_simulators": round(simulators_cpu, 1),
        "cpu_postgres": round(postgres_cpu, 1),
        "cores_used": round((workers_cpu + simulators_cpu + postgres_cpu) / took, 2),
        "load": round(load, 2),
        "killed_at": round(killed_at, 2) if killed_at is not None else None,
        "done_at_kill": done_at_kill,
        "statuses": {s: statuses.count(s) for s in set(statuses) if s},
        "swept": int(swept),
    }


def run(work: Path, scale: float) -> dict[str, Any]:
    """Both scenarios at ``scale`` (1.0: 24 pipelines of 400 persons, 4 workers)."""
    pipelines = max(4, int(24 * scale))
    persons = max(50, int(400 * scale))
    args = ["--pipelines", str(pipelines), "--persons", str(persons), "--workers", "4"]
    from _common import child

    return child("fleet", [*args, "--work", str(work)], timeout=3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipelines", type=int, default=24)
    parser.add_argument("--persons", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-", dir=args.work) as tmp:
        work = Path(tmp)
        server = PostgresServer().start()
        try:
            single = _single(work, server, args.persons, args.latency)
            t1 = single["seconds"]
            ideal = args.pipelines * t1 / args.workers
            cores = os.cpu_count() or 1
            bound = args.pipelines * single["cpu"] / cores
            common = {
                "pipelines": args.pipelines,
                "persons": args.persons,
                "workers": args.workers,
                "latency": args.latency,
            }
            limit = max(1800.0, 4 * max(ideal, bound))  # far past any fleet that works
            whole = _scenario(work, server, kill=False, limit=limit, **common)
            killed = (
                _scenario(work, server, kill=True, limit=limit, **common)
                if args.workers > 1
                else None
            )
        finally:
            server.stop()
    result: dict[str, Any] = {
        **common,
        "single_run": round(t1, 2),
        "warm_run": round(single["warm"], 2),
        "run_cpu": round(single["cpu"], 2),
        "cores": cores,
        "ideal": round(ideal, 2),
        "cpu_bound": round(bound, 2),
        "ideal_here": round(max(ideal, bound), 2),
        "fleet": whole,
        "fleet_ratio": round(whole["seconds"] / ideal, 3),
        "fleet_ratio_here": round(whole["seconds"] / max(ideal, bound), 3),
    }
    if killed is not None:  # one worker fewer from the kill on
        left = args.pipelines - killed["done_at_kill"]
        ideal_killed = (killed["killed_at"] or 0.0) + left * t1 / (args.workers - 1)
        result["killed"] = killed
        bound_killed = (killed["killed_at"] or 0.0) + left * single["cpu"] / cores
        result["ideal_killed"] = round(ideal_killed, 2)
        result["ideal_killed_here"] = round(max(ideal_killed, bound_killed), 2)
        result["killed_ratio"] = round(killed["seconds"] / ideal_killed, 3)
        result["killed_ratio_here"] = round(killed["seconds"] / max(ideal_killed, bound_killed), 3)
    emit(result)


if __name__ == "__main__":
    main()
