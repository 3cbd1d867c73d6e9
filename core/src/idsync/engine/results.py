"""What a run or a plan did and found, and the exit codes that say it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from idsync.breaker import Trip
from idsync.importer import SourceImport
from idsync.model import Blocked
from idsync.plan import Hold, Plan

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_HELD = 0, 1, 2, 3


class DateRefused(ValueError):
    """An enforcing run dated where time does not allow it (exit code 2).

    A run enforces on the pipeline's today; another date only with ``time_travel``, and never
    before the date of the last enforcing run (that would undo what it did).
    """


@dataclass
class RunReport:
    """What a run (or a plan) did and found."""

    run_id: int | None
    plan: Plan | None
    imports: list[SourceImport] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: list[Hold] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    error: str | None = None
    exit_code: int = EXIT_OK
    stopped: bool = False
    """The run was asked to stop while enforcing; what it did not start, the next run does."""
    lease_lost: bool = False
    """The run stopped because its lease on the pipeline ran out or was taken over."""
    breakers: list[Trip] = field(default_factory=list)
    """Targets stopped early because they refused the credentials or could not be reached."""

    def count(self, status: str, kind: str | None = None) -> int:
        """How many actions ended in ``status`` (of ``kind``)."""
        return sum(
            n for (s, k), n in self.counts.items() if s == status and (kind is None or k == kind)
        )

    def nested_counts(self) -> dict[str, dict[str, int]]:
        """``{status: {kind: n}}``."""
        return nest_counts(self.counts)


def run_status(exit_code: int, stopped: bool = False) -> str:
    """How a finished run is recorded: ``done``, ``failed``, ``held`` or ``stopped``."""
    if stopped:
        return "stopped"
    return {EXIT_OK: "done", EXIT_FAILED: "failed", EXIT_HELD: "held"}.get(exit_code, "failed")


def nest_counts(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{(status, kind): n}`` as ``{status: {kind: n}}``, the way runs record them."""
    out: dict[str, dict[str, int]] = {}
    for (status, kind), n in counts.items():
        out.setdefault(status, {})[kind] = n
    return out
