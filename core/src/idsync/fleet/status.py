"""What the fleet is doing, per pipeline: due, queued, running, stalled, failing (``idsync
fleet``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from idsync.fleet.queue import RUN_TASK, Fleet, pipeline_lock
from idsync.state import now

__all__ = ["PipelineStatus", "fleet_status"]

_FAILING = frozenset({"failed", "crashed", "stopped"})


@dataclass(frozen=True)
class PipelineStatus:
    """One pipeline's line of ``idsync fleet``."""

    pipeline: str
    schedule: str
    queue: str
    state: str
    """``running``, ``stalled`` (its worker stopped beating), ``queued``, ``due`` or ``idle``."""
    next_start: dt.datetime
    last_start: dt.datetime | None
    last_status: str | None
    last_error: str | None
    failing: bool
    """Whether its last run failed, crashed or was stopped."""
    waiting: int
    """Runs waiting in the queue (0 or 1: the queueing lock)."""

    def as_json(self) -> dict[str, Any]:
        """The line as JSON-ready values."""
        data = asdict(self)
        for key in ("next_start", "last_start"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _jobs(fleet: Fleet) -> dict[str, dict[str, int]]:
    """``{lock: {"todo": n, "doing": n, "stalled": n}}`` of the run jobs not finished."""
    query = sa.text(
        "SELECT j.lock, j.status, "
        "  (j.status = 'doing' AND (w.id IS NULL OR "
        "   w.last_heartbeat < NOW() - make_interval(secs => :stalled))) AS stalled "
        "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
        "WHERE j.status IN ('todo', 'doing') AND j.task_name = :task"
    )
    found: dict[str, dict[str, int]] = {}
    with fleet.store.engine.connect() as conn:
        for lock, status, stalled in conn.execute(
            query, {"stalled": fleet.stalled_after, "task": RUN_TASK}
        ):
            counts = found.setdefault(lock or "", {"todo": 0, "doing": 0, "stalled": 0})
            counts["stalled" if stalled else str(status)] += 1
    return found


def fleet_status(fleet: Fleet, at: dt.datetime | None = None) -> list[PipelineStatus]:
    """Every scheduled pipeline's state, by name."""
    at = at or now()
    jobs = _jobs(fleet)
    lines = []
    for found in fleet.schedules.all():
        counts = jobs.get(pipeline_lock(found.pipeline), {})
        if counts.get("stalled"):
            state = "stalled"
        elif counts.get("doing"):
            state = "running"
        elif counts.get("todo"):
            state = "queued"
        elif found.due(at):
            state = "due"
        else:
            state = "idle"
        lines.append(
            PipelineStatus(
                pipeline=found.pipeline,
                schedule=found.schedule.describe(),
                queue=found.queue,
                state=state,
                next_start=found.next_start(),
                last_start=found.last_start,
                last_status=found.last_status,
                last_error=found.last_error,
                failing=found.last_status in _FAILING,
                waiting=counts.get("todo", 0),
            )
        )
    return lines
