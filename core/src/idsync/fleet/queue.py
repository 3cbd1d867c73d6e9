"""The fleet's job queue: procrastinate on the fleet's PostgreSQL store.

Three tasks share one :class:`procrastinate.App`:

- ``idsync.run_pipeline(pipeline=NAME)``: one run of one pipeline. Its procrastinate ``lock``
  and ``queueing_lock`` are both keyed on the pipeline, so at most one runs and at most one
  waits, across every worker. The job's only argument is the pipeline's name (procrastinate
  keeps arguments as plain JSON): the worker reads the pipeline file and its environment file
  named by the schedule.
- ``idsync.tick`` (periodic, on the ``control`` queue): sweeps the jobs of dead workers, then
  defers a run of every pipeline that is due (counted from its last start) and idle.
- The sweep closes the ``doing`` job of a worker whose heartbeat stopped as failed and defers
  a new job for that pipeline, unless one is already waiting (the queueing lock says so).
  procrastinate's own recipe (``retry_job`` on the stalled job) fails with a unique violation
  when a job with the same queueing lock waits (upstream issue #1543), and it would give the
  same job row back to the queue while the worker that held it may only be paused: waking up,
  that worker would close the retried job under the next worker's feet. A new row avoids both.

Whatever procrastinate does, the pipeline's lease in its own state store stays the last word on
who may write: a run that finds the lease held waits until it is free (a live holder finishes,
a dead one's lease runs out), and a runner paused past its lease stops before its next write
(see :mod:`idsync.state.lease`). A run that lost its lease while no other run of its pipeline
started is deferred again at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

import procrastinate
import sqlalchemy as sa
from loguru import logger
from procrastinate import exceptions as pexc
from procrastinate.jobs import Status

from idsync.config import load_pipeline
from idsync.engine import Engine, RunReport, run_status
from idsync.fleet.schedules import FleetSchedule, Schedules, read_env_file
from idsync.plugins import Registry
from idsync.secrets import register_secret
from idsync.state import LockHeld, Store, now

__all__ = [
    "CONTROL_QUEUE",
    "RUN_TASK",
    "TICK_TASK",
    "Fleet",
    "FleetError",
    "pipeline_lock",
]

RUN_TASK = "idsync.run_pipeline"
TICK_TASK = "idsync.tick"
CONTROL_QUEUE = "control"
"""The queue of the periodic tick; run one worker (``idsync worker --queue control``) on it."""

_SCHEMA_KEY = 0x1D5_F1EE
"""The PostgreSQL advisory lock taken while procrastinate's schema is applied."""


class FleetError(RuntimeError):
    """The fleet cannot work as configured (not PostgreSQL, a bad setting); says what."""


def pipeline_lock(pipeline: str) -> str:
    """The procrastinate lock and queueing lock of a pipeline's runs."""
    return f"idsync:pipeline:{pipeline}"


def _seconds(name: str, default: float, low: float, high: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise FleetError(f"{name}={text!r} is not a number of seconds") from None
    if not low <= value <= high:
        raise FleetError(f"{name}={text!r} must be between {low:g} and {high:g} seconds")
    return value


def _tick_cron(seconds: int) -> str:
    """A six-field cron expression (seconds last) for a tick every ``seconds``."""
    if seconds >= 60:
        return "* * * * *"
    return f"* * * * * */{seconds}"


def _taken_for_dead(exc: BaseException) -> bool:
    """Whether a worker's fetch failed because its registration is gone.

    procrastinate removes the rows of workers whose heartbeat is older than the stall timeout
    when a worker starts. A worker paused past it wakes up unregistered: it beats nothing
    (an update of no row) and each fetch would set a job's worker to an id that no longer
    exists, which the foreign key refuses. So it can never take a job; it stops, clearly."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == "procrastinate_jobs_worker_id_fkey"


class Fleet:
    """Pipelines on one PostgreSQL store, run by workers through procrastinate.

    ``url`` is the fleet store's SQLAlchemy URL (``postgresql+psycopg://…``); it holds the
    schedules and the queue. Each pipeline keeps its own state in the store its file names.
    ``IDSYNC_FLEET_TICK`` (seconds, default 60) sets how often the tick runs and
    ``IDSYNC_FLEET_HEARTBEAT`` (default 10) how often workers beat; a worker is taken for
    dead after three missed beats.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise FleetError(
                f"the fleet needs a PostgreSQL store (postgresql+psycopg://…), not {parsed.drivername}"
            )
        if parsed.password:
            register_secret(parsed.password)
        self.tick_seconds = int(_seconds("IDSYNC_FLEET_TICK", 60, 1, 60))
        self.heartbeat = _seconds("IDSYNC_FLEET_HEARTBEAT", 10, 0.2, 300)
        self.stalled_after = 3 * self.heartbeat
        self.store = Store(url)
        self.schedules = Schedules(self.store)
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo),
            worker_defaults={
                "update_heartbeat_interval": self.heartbeat,
                "stalled_worker_timeout": self.stalled_after,
            },
        )
        self._ensure_schema()
        self._define_tasks()

    def close(self) -> None:
        """Release the fleet store's connections."""
        self.store.close()

    # --- the tasks -------------------------------------------------------------------

    def _define_tasks(self) -> None:
        app = self.app

        @app.task(name=RUN_TASK, pass_context=False)
        async def run_pipeline(pipeline: str) -> None:
            _status, again = await asyncio.to_thread(self._run_one, pipeline)
            if not again:
                return
            found = await asyncio.to_thread(self.schedules.get, pipeline)
            deferred = found is not None and await self.defer(found)
            # The job fails: its run did not finish (the new job, or the one waiting, does).
            raise FleetError(
                f"the run of {pipeline} lost its lease before it finished; "
                + ("it is deferred again" if deferred else "a run of it waits already")
            )

        @app.periodic(cron=_tick_cron(self.tick_seconds), periodic_id="idsync")
        @app.task(name=TICK_TASK, queue=CONTROL_QUEUE, queueing_lock=TICK_TASK, pass_context=False)
        async def tick(timestamp: int) -> None:
            await self.tick()

        self.run_task = run_pipeline
        self.tick_task = tick

    def run_one(self, pipeline: str) -> str:
        """Run one pipeline now, in this thread: read its schedule, its environment file and
        its pipeline file, wait for its lease while another runner holds it, run, record how
        it went. Returns the run's status (``done``, ``failed``, ``held``, ``stopped``).
        Raises when the pipeline cannot be run at all (the job then fails).

        The wait for the lease has no deadline of its own: a holder that lives renews it and
        finishes (a worker taken for dead while it was only slow), one that died stops
        renewing and its lease runs out within one lease time."""
        return self._run_one(pipeline)[0]

    def _run_one(self, pipeline: str) -> tuple[str, bool]:
        """:meth:`run_one`, and whether the pipeline should run again at once: its run lost
        its lease before it finished while no other run of it had started since (so nobody
        else is doing its work; the next due time may be an hour away)."""
        found = self.schedules.get(pipeline)
        if found is None:
            raise FleetError(f"pipeline {pipeline!r} is not scheduled in this fleet")
        started = now()
        self.schedules.started(pipeline, started)
        log = logger.bind(pipeline=pipeline)
        try:
            env = dict(os.environ)
            if found.env_file:
                env.update(read_env_file(found.env_file))
            registry = Registry()
            config = load_pipeline(found.path, registry, env=env)
            if config.label != pipeline:
                raise FleetError(
                    f"{found.path} now names pipeline {config.label!r}, not {pipeline!r}"
                )
            engine = Engine(config, registry)
            try:
                report = self._run_when_free(engine, log)
            finally:
                engine.close()
        except BaseException as exc:
            self.schedules.finished(
                pipeline, "crashed", f"{type(exc).__name__}: {exc}", started=started
            )
            raise
        status = run_status(report.exit_code, report.stopped)
        noted = self.schedules.finished(pipeline, status, report.error, started=started)
        log.info("run {} of {}: {}", report.run_id, pipeline, status)
        return status, noted and report.lease_lost

    @staticmethod
    def _run_when_free(engine: Engine, log: Any) -> RunReport:
        """``engine.run()``, once the pipeline's lease is free (checked every second; said in
        the log at once and then every minute)."""
        waited = 0.0
        while True:
            try:
                return engine.run()
            except LockHeld:
                if waited % 60 == 0:
                    log.info(
                        "another runner holds the lease on {}; this run waits for it ({:.0f} s)",
                        engine.pipeline.label,
                        waited,
                    )
                time.sleep(1.0)
                waited += 1.0

    async def tick(self) -> None:
        """Sweep the jobs of dead workers, then defer the runs that are due."""
        await self.sweep()
        await self.defer_due()

    async def defer_due(self, at: dt.datetime | None = None) -> list[str]:
        """Defer a run of every pipeline due by ``at`` (now) and neither running nor
        waiting; returns their names."""
        at = at or now()
        schedules = await asyncio.to_thread(self.schedules.all)
        busy = await asyncio.to_thread(self._busy_locks)
        deferred = []
        for found in schedules:
            if not found.due(at) or pipeline_lock(found.pipeline) in busy:
                continue
            if await self.defer(found):
                deferred.append(found.pipeline)
        return deferred

    async def defer(self, found: FleetSchedule) -> bool:
        """Defer one run of a pipeline; False when one is already waiting."""
        key = pipeline_lock(found.pipeline)
        try:
            await self.run_task.configure(
                lock=key, queueing_lock=key, queue=found.queue
            ).defer_async(pipeline=found.pipeline)
        except pexc.AlreadyEnqueued:
            return False
        return True

    async def sweep(self) -> list[int]:
        """Close the jobs of workers whose heartbeat stopped; defer each pipeline's run
        again unless one waits already. Returns the ids of the jobs closed."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after)
        closed = []
        for job in stalled:
            if job.id is None:
                continue
            try:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            except pexc.ConnectorException:  # it finished (or was swept) meanwhile
                continue
            closed.append(job.id)
            pipeline = job.task_kwargs.get("pipeline")
            logger.warning(
                "job {} ({}) of a worker that stopped beating is closed as failed",
                job.id,
                job.task_name,
            )
            if job.task_name != RUN_TASK or not isinstance(pipeline, str):
                continue
            found = await asyncio.to_thread(self.schedules.get, pipeline)
            if found is None:
                continue
            if await self.defer(found):
                logger.warning("the run of {} is deferred again", pipeline)
        return closed

    def _busy_locks(self) -> set[str]:
        """The locks of run jobs waiting or running."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT DISTINCT lock FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') AND task_name = :task"
                ),
                {"task": RUN_TASK},
            )
            return {r[0] for r in rows if r[0]}

    # --- the worker ------------------------------------------------------------------

    def run_worker(
        self, queues: Iterable[str] | None = None, concurrency: int = 1, name: str | None = None
    ) -> None:
        """Run a worker until SIGINT/SIGTERM (then the jobs in flight finish). It sweeps the
        jobs of dead workers first, so a restarted control worker unblocks its own ticks."""
        name = name or f"{socket.gethostname()}:{os.getpid()}"

        async def work() -> None:
            async with self.app.open_async():
                await self.sweep()
                if queues:
                    await self.app.run_worker_async(
                        queues=list(queues), concurrency=concurrency, name=name
                    )
                else:  # every queue
                    await self.app.run_worker_async(concurrency=concurrency, name=name)

        try:
            asyncio.run(work())
        except pexc.ConnectorException as exc:
            if not _taken_for_dead(exc):
                raise
            raise FleetError(
                f"worker {name} was taken for dead while it did not beat (paused, or cut off "
                "from the database) and a starting worker removed its registration; it took "
                "no job since and stops now: start it again"
            ) from None

    def _ensure_schema(self) -> None:
        """Apply procrastinate's schema once (workers starting together take turns)."""
        with self.store.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_KEY})
            exists = conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar()
            if exists is None:
                schema = self.app.schema_manager.get_schema()
                dbapi: Any = conn.connection.dbapi_connection
                with dbapi.cursor() as cursor:
                    cursor.execute(schema)
