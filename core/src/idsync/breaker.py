"""Fail fast: a target that refuses the credentials or cannot be reached is stopped early.

Without this, a wrong secret makes every action of a run fail the same way (a run of a few
thousand actions sends a few thousand requests that all get 401), and a target that is down
makes every action wait out its whole retry budget, one after the other. A
:class:`Breaker` watches the outcome of each hook call of one target: when a few calls in a
row were refused the credentials (HTTP 401 or 407), or a call could not reach the target
after all its retries while no other call got through, the breaker *trips*: the target's remaining actions are not tried
(recorded as skipped, with the reason, and planned again by the next run), one error line
says why, and the other targets go on. The run's summary names every tripped breaker.

How a call's outcome is known: :class:`~idsync.http.ApiClient` notes each request it gives up
on (:func:`note`) in the calling thread's :func:`watching` scope, so a plugin built on it
needs to do nothing. A plugin with its own HTTP client can call :func:`note` itself.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from loguru import logger

from idsync.secrets import redact

__all__ = ["Breaker", "Outage", "Trip", "note", "watching"]


class Outage(StrEnum):
    """Why a target cannot do any work now."""

    CREDENTIALS = "credentials refused"
    UNREACHABLE = "unreachable"


CREDENTIAL_STATUSES = frozenset({401, 407})
"""HTTP statuses that refuse the credentials themselves (403 may refuse one object only)."""

_watch: contextvars.ContextVar[list[tuple[Outage, str]] | None] = contextvars.ContextVar(
    "idsync_breaker_watch", default=None
)


def note(outage: Outage, detail: str) -> None:
    """Record that a request of the current hook call met ``outage`` (``detail`` says how)."""
    seen = _watch.get()
    if seen is not None:
        seen.append((outage, detail))


@contextmanager
def watching() -> Iterator[list[tuple[Outage, str]]]:
    """Collect the outages of the requests made in this block (in this thread)."""
    seen: list[tuple[Outage, str]] = []
    token = _watch.set(seen)
    try:
        yield seen
    finally:
        _watch.reset(token)


@dataclass
class Trip:
    """A tripped breaker: which target stopped, why, and what was left undone."""

    target: str
    outage: Outage
    detail: str
    failures: int
    """Hook calls that met the outage before the target was stopped."""
    not_tried: int = 0
    """Actions skipped because the target was stopped."""

    @property
    def message(self) -> str:
        """One line for humans."""
        what = (
            "refused the credentials"
            if self.outage is Outage.CREDENTIALS
            else "could not be reached after every retry"
        )
        return (
            f"{self.target} stopped: it {what} ({self.detail}) in {self.failures} call(s); "
            f"{self.not_tried} action(s) not tried, the next run plans them again"
        )

    def as_json(self) -> dict[str, object]:
        """The breaker as ``--json`` prints it."""
        return {
            "target": self.target,
            "reason": self.outage.value,
            "detail": self.detail,
            "failures": self.failures,
            "not_tried": self.not_tried,
        }


@dataclass
class Breaker:
    """Watches one target's hook calls and trips when the target cannot do any work.

    - Credentials: ``credentials_after`` calls in a row refused them (a few, so one stray
      401 does not stop a run; the same credentials go with every request).
    - Reachability: a call gave up after all its retries without an answer, and no call of
      the target got an answer since that call began. A target that is down trips after one
      call's retry budget; a flaky one, whose other calls get through meanwhile, does not.
    """

    target: str
    credentials_after: int = 3
    trip: Trip | None = None
    _refused: int = 0
    _answered: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tripped(self) -> bool:
        """Whether the target is stopped."""
        return self.trip is not None

    def record(self, seen: list[tuple[Outage, str]], started: float | None = None) -> None:
        """The outcome of one hook call that began at ``started`` (``time.monotonic()``): the
        outages its requests met (none: it got answers and the credentials were taken)."""
        now = time.monotonic()
        with self._lock:
            if not seen:
                self._refused = 0
                self._answered = now
                return
            outage, detail = seen[-1]
            if outage is Outage.CREDENTIALS:
                self._refused += 1
                trips = self._refused >= self.credentials_after
                failures = self._refused
            else:
                began = now if started is None else started
                trips = self._answered < began  # nothing got through while this call tried
                failures = 1
            if self.trip is None and trips:
                self.trip = Trip(self.target, outage, redact(detail), failures=failures)
                logger.bind(system=self.target).error(
                    "{} stopped: {} ({}); its other actions are not tried in this run",
                    self.target,
                    outage.value,
                    self.trip.detail,
                )

    def skipped(self, n: int = 1) -> None:
        """Count actions left undone because the target is stopped."""
        with self._lock:
            if self.trip is not None:
                self.trip.not_tried += n

    @property
    def reason(self) -> str:
        """Why an action was not tried, for its audit record."""
        trip = self.trip
        if trip is None:
            return ""
        return f"not tried: {trip.target} is stopped ({trip.outage.value}: {trip.detail})"
