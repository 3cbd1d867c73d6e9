"""Scheduling: run a pipeline forever, every interval (``--every 1h``) or on a cron schedule.

One process runs one pipeline, one run at a time: the next run is planned when the last one has
finished, so runs never overlap; a run that takes longer than the interval skips the ticks it
overran (logged). The state store's pipeline lock keeps two runners (two hosts, or a manual
``idsync run`` beside the service) from enforcing at once: a runner that finds the lock taken
skips that tick with a warning and tries again at the next. The pipeline file is read again
before every run, so an edit takes effect without a restart (a file that became invalid skips
the tick with its errors logged).

SIGTERM or SIGINT stops gracefully: a sleeping runner exits at once; a running one finishes the
actions in flight, starts nothing new, records the run as ``stopped`` and exits 0. A second
signal stops at once (nothing is lost: every finished action is already recorded).
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]
from loguru import logger

from idsync.config import ConfigError, load_pipeline
from idsync.engine import EXIT_OK, Engine, RunReport, run_status
from idsync.jsondoc import dumps
from idsync.plugins import Registry
from idsync.state import LockHeld, StateError, Store

__all__ = ["Schedule", "graceful_stop", "parse_every", "run_forever", "status_line"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EVERY = re.compile(r"(\d+)\s*([smhdw])")


def parse_every(text: str) -> dt.timedelta:
    """``30s``, ``15m``, ``1h``, ``1h30m``, ``1d``: an interval of at least one second."""
    compact = text.strip().lower().replace(" ", "")
    parts = _EVERY.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"--every {text!r} is not an interval such as 30s, 15m, 1h, 1h30m or 1d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < 1:
        raise ValueError(f"--every {text!r} must be at least one second")
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Schedule:
    """When runs start: a fixed interval from the first run, or a cron expression."""

    every: dt.timedelta | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, every: str | None, cron: str | None) -> Schedule:
        """From the command line's ``--every`` or ``--cron`` (exactly one); ``ValueError``."""
        if (every is None) == (cron is None):
            raise ValueError("give exactly one of --every or --cron")
        if every is not None:
            return cls(every=parse_every(every))
        if cron is None or not croniter.is_valid(cron):
            raise ValueError(f"--cron {cron!r} is not a cron expression such as '*/15 * * * *'")
        return cls(cron=cron)

    def first(self, now: dt.datetime) -> dt.datetime:
        """When the first run starts: at once for an interval, the next match for cron."""
        return now if self.every is not None else self.next_after(now, now)

    def next_after(self, last_start: dt.datetime, now: dt.datetime) -> dt.datetime:
        """The next start after a run that started at ``last_start`` and ended by ``now``:
        the first tick after ``now`` (ticks a run overran are skipped)."""
        if self.every is not None:
            ticks = (now - last_start) // self.every + 1
            return last_start + ticks * self.every
        if self.cron is None:
            raise ValueError("a schedule needs an interval or a cron expression")
        nxt: dt.datetime = croniter(self.cron, now).get_next(dt.datetime)
        return nxt

    def describe(self) -> str:
        """``every 1:00:00`` or ``cron */15 * * * *``."""
        return f"every {self.every}" if self.every is not None else f"cron {self.cron}"


def _local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


@contextmanager
def graceful_stop() -> Iterator[threading.Event]:
    """An event set by the first SIGTERM or SIGINT; a second such signal stops at once.

    Outside the main thread (where signals cannot be caught) the event is only set by hand.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def stopping(name: str) -> None:
        logger.warning(
            "{} received: finishing the actions in flight, then stopping (again to stop at once)",
            name,
        )
        stop.set()

    def handler(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        # Log and set from a thread: a signal handler must not take locks the interrupted
        # code may hold (the logger's, the event's).
        name = signal.Signals(signum).name
        threading.Thread(target=stopping, args=(name,), daemon=True).start()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _counts_text(report: RunReport) -> str:
    done = report.nested_counts().get("done", {}) or report.nested_counts().get("dry-run", {})
    return ", ".join(f"{n} {kind}" for kind, n in sorted(done.items())) or "nothing to do"


def status_line(
    report: RunReport, seconds: float, next_at: dt.datetime | None, dry_run: bool = False
) -> str:
    """One line per run: when, which run, how it ended, how long, what it did, what is next."""
    status = run_status(report.exit_code, report.stopped)
    parts = [f"run {report.run_id} {status}{' (dry-run)' if dry_run else ''} in {seconds:.1f}s"]
    parts.append(_counts_text(report))
    failed = report.count("failed")
    if failed:
        parts.append(f"{failed} failed")
    if report.held:
        parts.append("held: " + ", ".join(f"{h.system} {h.kind}" for h in report.held))
    if report.blocked:
        parts.append(f"{len(report.blocked)} blocked")
    if report.error:
        parts.append(f"error: {report.error}")
    for trip in report.breakers:
        parts.append(f"{trip.target} stopped: {trip.outage.value}")
    line = "; ".join(parts)
    if next_at is not None:
        line += f"; next at {next_at.isoformat(timespec='seconds')}"
    return f"{_local_now().isoformat(timespec='seconds')} {line}"


@dataclass
class _Tick:
    report: RunReport | None
    seconds: float
    skipped: str | None = None


def _one_run(
    path: Path,
    registry: Registry,
    *,
    dry_run: bool,
    targets: list[str] | None,
    stop: threading.Event,
) -> _Tick:
    started = time.monotonic()
    try:
        pipeline = load_pipeline(path, registry)
    except ConfigError as exc:
        for where, message in exc.errors:
            logger.error("{}: {}: {}", exc.file, where or "(top)", message)
        return _Tick(None, time.monotonic() - started, "the pipeline file is not valid")
    engine: Engine | None = None
    try:
        store = Store(pipeline.state, check="all")
        if store.created:
            logger.warning(
                "created a new state store at {} (no earlier runs)", store.location.display
            )
        engine = Engine(pipeline, registry, store=store)
        report = engine.run(dry_run=dry_run, targets=targets, cancel=stop)
    except StateError as exc:
        logger.error("{}", exc)
        return _Tick(None, time.monotonic() - started, str(exc))
    except LockHeld:
        owner = engine.store.lock_owner(engine.lock) if engine else None
        return _Tick(
            None,
            time.monotonic() - started,
            f"another runner ({owner}) is enforcing this pipeline",
        )
    except Exception as exc:  # a scheduled runner survives a bad tick (a store outage, a bug)
        logger.opt(exception=exc).error("the run failed: {}: {}", type(exc).__name__, exc)
        return _Tick(None, time.monotonic() - started, f"the run failed: {type(exc).__name__}")
    finally:
        if engine is not None:
            engine.close()
    return _Tick(report, time.monotonic() - started)


def run_forever(
    path: Path,
    registry: Registry,
    schedule: Schedule,
    *,
    dry_run: bool = False,
    targets: list[str] | None = None,
    as_json: bool = False,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> int:
    """Run the pipeline on ``schedule`` until stopped; one status line per run on ``out``.

    ``stop`` replaces the signal handling (for embedding); by default SIGTERM and SIGINT stop
    gracefully. Returns the exit code: 0 after a graceful stop.
    """
    stopping: AbstractContextManager[threading.Event] = (
        graceful_stop() if stop is None else nullcontext(stop)
    )
    with stopping as stop:
        logger.info("scheduled runs of {}: {}", path, schedule.describe())
        next_at = schedule.first(_local_now())
        while not stop.is_set():
            while not stop.is_set():
                remaining = (next_at - _local_now()).total_seconds()
                if remaining <= 0:
                    break
                stop.wait(min(remaining, 60.0))
            if stop.is_set():
                break
            start = _local_now()
            tick = _one_run(path, registry, dry_run=dry_run, targets=targets, stop=stop)
            next_at = schedule.next_after(start, _local_now())
            if tick.report is None:
                message = (
                    f"tick skipped: {tick.skipped}; next at {next_at.isoformat(timespec='seconds')}"
                )
                logger.warning("{}", message)
                if as_json:
                    out(dumps({"skipped": tick.skipped, "next": next_at}, indent=None))
                continue
            report = tick.report
            overran = (next_at - start) // schedule.every - 1 if schedule.every else 0
            if overran > 0:
                logger.warning("the run overran {} tick(s); they are skipped", overran)
            if as_json:
                out(dumps(_json_line(report, tick.seconds, next_at, dry_run), indent=None))
            else:
                out(status_line(report, tick.seconds, None if stop.is_set() else next_at, dry_run))
        logger.info("scheduled runs of {} stopped", path)
    return EXIT_OK


def _json_line(
    report: RunReport, seconds: float, next_at: dt.datetime, dry_run: bool
) -> dict[str, Any]:
    return {
        "at": _local_now().isoformat(timespec="seconds"),
        "run": report.run_id,
        "exit_code": report.exit_code,
        "stopped": report.stopped,
        "dry_run": dry_run,
        "seconds": round(seconds, 3),
        "counts": report.nested_counts(),
        "held": [f"{h.system} {h.kind}" for h in report.held],
        "blocked": len(report.blocked),
        "error": report.error,
        "stopped_targets": [trip.as_json() for trip in report.breakers],
        "next": next_at.isoformat(timespec="seconds"),
    }
