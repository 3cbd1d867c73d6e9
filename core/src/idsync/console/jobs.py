"""Work the console starts in the background: a plan preview, a reconciliation, an approval.

Each takes seconds to minutes (it reads the sources and targets, or runs the pipeline), so a
page starts it and shows its progress; the page refreshes itself until the job is done. One
job of a kind runs per pipeline at a time: asking again while it runs shows the running one.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from idsync.secrets import redact

__all__ = ["Job", "Jobs"]


@dataclass
class Job:
    """One piece of background work and, once finished, its result or error."""

    id: str
    kind: str
    pipeline: str
    by: str
    subject: str = ""
    """What the job is about (a held item's id for an approval)."""
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished: dt.datetime | None = None
    result: Any = None
    error: str | None = None

    @property
    def running(self) -> bool:
        """Whether it has not finished yet."""
        return self.finished is None

    @property
    def seconds(self) -> float:
        """How long it ran (so far)."""
        end = self.finished or dt.datetime.now(dt.UTC)
        return (end - self.started).total_seconds()


class Jobs:
    """The console's background jobs, kept in memory (the state store keeps what they did)."""

    def __init__(self, workers: int = 2, keep: int = 50) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="console-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(
        self, kind: str, pipeline: str, by: str, work: Callable[[], Any], subject: str = ""
    ) -> Job:
        """Run ``work`` in the background, unless a job of this kind and pipeline is running
        (then that one is returned)."""
        with self._lock:
            for job in self._jobs.values():
                if job.kind == kind and job.pipeline == pipeline and job.running:
                    return job
            job = Job(id=secrets.token_hex(8), kind=kind, pipeline=pipeline, by=by, subject=subject)
            for old in [
                j
                for j in self._jobs.values()
                if (j.kind, j.pipeline, j.subject) == (kind, pipeline, subject)
            ]:
                del self._jobs[old.id]  # superseded (and a plan of 100,000 persons is large)
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[], Any]) -> None:
        try:
            job.result = work()
        except Exception as exc:  # the page shows it; the console goes on
            job.error = redact(str(exc) or type(exc).__name__)
            logger.bind(pipeline=job.pipeline).warning("{} failed: {}", job.kind, job.error)
        finally:
            job.finished = dt.datetime.now(dt.UTC)

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if not j.running]
        for job in sorted(done, key=lambda j: j.started)[: max(0, len(done) - self._keep)]:
            del self._jobs[job.id]

    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(job_id)

    def latest(self, kind: str, pipeline: str, subject: str | None = None) -> Job | None:
        """The newest job of a kind for a pipeline (and subject), running or not."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.kind == kind
                and j.pipeline == pipeline
                and (subject is None or j.subject == subject)
            ]
        return max(found, key=lambda j: j.started) if found else None

    def shutdown(self) -> None:
        """Wait for running jobs and stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
