"""The fleet's pipelines and when each is due, in the fleet's PostgreSQL store.

A schedule row holds paths, never secrets: the pipeline file, the file of its environment
(``KEY=VALUE`` lines, read by the worker that runs it) and its interval or cron expression.
A pipeline is *due* when its next start after its last start has come, so ticks that were
missed (no control worker for an hour) are caught up by one run, not one run per missed tick.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from croniter import croniter  # type: ignore[import-untyped]

from idsync.schedule import Schedule
from idsync.secrets import redact
from idsync.state import Store, now
from idsync.state import schema as t

__all__ = ["DEFAULT_QUEUE", "FleetSchedule", "Schedules", "read_env_file"]

DEFAULT_QUEUE = "pipelines"
"""The queue a pipeline's runs go to unless ``--queue`` says otherwise."""


@dataclass(frozen=True)
class FleetSchedule:
    """One pipeline of the fleet: its files, its schedule, its queue and its last run."""

    pipeline: str
    path: str
    env_file: str | None
    schedule: Schedule
    queue: str
    added: dt.datetime
    last_start: dt.datetime | None = None
    last_finish: dt.datetime | None = None
    last_status: str | None = None
    last_error: str | None = None

    def next_start(self) -> dt.datetime:
        """When the next run is due: at once for a pipeline that never ran, else the first
        tick after the last start (an interval) or the cron expression's next match."""
        if self.last_start is None:
            if self.schedule.every is not None:
                return self.added
            start: dt.datetime = croniter(self.schedule.cron, self.added).get_next(dt.datetime)
            return start
        if self.schedule.every is not None:
            return self.last_start + self.schedule.every
        nxt: dt.datetime = croniter(self.schedule.cron, self.last_start).get_next(dt.datetime)
        return nxt

    def due(self, at: dt.datetime) -> bool:
        """Whether a run should start by ``at``."""
        return self.next_start() <= at


def _aware(stamp: dt.datetime | None) -> dt.datetime | None:
    if stamp is None or stamp.tzinfo is not None:
        return stamp
    return stamp.replace(tzinfo=dt.UTC)


def _row(row: Any) -> FleetSchedule:
    m = row._mapping
    every = m["every_seconds"]
    return FleetSchedule(
        pipeline=m["pipeline"],
        path=m["path"],
        env_file=m["env_file"],
        schedule=Schedule(every=dt.timedelta(seconds=every)) if every else Schedule(cron=m["cron"]),
        queue=m["queue"],
        added=_aware(m["added"]) or now(),
        last_start=_aware(m["last_start"]),
        last_finish=_aware(m["last_finish"]),
        last_status=m["last_status"],
        last_error=m["last_error"],
    )


class Schedules:
    """The ``schedules`` table of a fleet store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        pipeline: str,
        path: Path,
        schedule: Schedule,
        *,
        queue: str = DEFAULT_QUEUE,
        env_file: Path | None = None,
    ) -> FleetSchedule:
        """Register (or change) a pipeline's schedule; its last run is kept."""
        values = {
            "path": str(path.resolve()),
            "env_file": str(env_file.resolve()) if env_file is not None else None,
            "every_seconds": int(schedule.every.total_seconds()) if schedule.every else None,
            "cron": schedule.cron,
            "queue": queue,
        }
        c = t.schedules.c
        with self.store.engine.begin() as conn:
            changed = conn.execute(
                t.schedules.update().where(c.pipeline == pipeline).values(**values)
            )
            if changed.rowcount == 0:
                conn.execute(t.schedules.insert().values(pipeline=pipeline, added=now(), **values))
        found = self.get(pipeline)
        if found is None:  # pragma: no cover - just written
            raise LookupError(pipeline)
        return found

    def remove(self, pipeline: str) -> bool:
        """Forget a pipeline's schedule; False when it had none."""
        with self.store.engine.begin() as conn:
            gone = conn.execute(t.schedules.delete().where(t.schedules.c.pipeline == pipeline))
            return gone.rowcount > 0

    def get(self, pipeline: str) -> FleetSchedule | None:
        """One pipeline's schedule, or None."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.schedules).where(t.schedules.c.pipeline == pipeline)
            ).first()
        return _row(row) if row is not None else None

    def all(self) -> list[FleetSchedule]:
        """Every pipeline of the fleet, by name."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.schedules).order_by(t.schedules.c.pipeline))
            return [_row(r) for r in rows]

    def started(self, pipeline: str, at: dt.datetime) -> None:
        """Note that a run of ``pipeline`` started (what the next due time counts from)."""
        with self.store.engine.begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(t.schedules.c.pipeline == pipeline)
                .values(last_start=at, last_status="running", last_error=None)
            )

    def finished(
        self,
        pipeline: str,
        status: str,
        error: str | None = None,
        *,
        started: dt.datetime | None = None,
    ) -> bool:
        """Note how a run of ``pipeline`` ended (``error`` redacted and cut to 2000). With
        ``started``, only while that run is still the last one started: a runner that was
        paused and taken over does not overwrite the outcome of the run that took over.
        Returns whether it was noted."""
        c = t.schedules.c
        which = c.pipeline == pipeline
        if started is not None:
            which &= c.last_start == started
        with self.store.engine.begin() as conn:
            noted = conn.execute(
                t.schedules.update()
                .where(which)
                .values(
                    last_finish=now(),
                    last_status=status,
                    last_error=redact(error)[:2000] if error else None,
                )
            )
            return noted.rowcount > 0


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``KEY=VALUE`` lines (as ``idsync sandbox --env-file`` writes them; ``#`` comments and
    blank lines skipped, values unquoted as a POSIX shell would). Raises ``ValueError`` naming
    the line of a malformed one, never its value."""
    env: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.removeprefix("export ").partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ValueError(f"{path}:{number}: not a KEY=VALUE line")
        try:
            parts = shlex.split(value)
        except ValueError:
            raise ValueError(
                f"{path}:{number}: the value of {key} is not quoted properly"
            ) from None
        env[key] = " ".join(parts)
    return env
