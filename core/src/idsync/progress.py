"""Progress of long work: the callbacks the engine calls while it reads sources and enforces
targets. The CLI draws progress bars with them (:func:`idsync.report.progress_bars`)."""

from __future__ import annotations

from collections.abc import Callable

from idsync.actions import Action
from idsync.model import ActionStatus

__all__ = ["Progress"]


class Progress:
    """Callbacks for long work; the CLI draws progress bars with them. Does nothing by default."""

    def reading(self, source: str) -> Callable[[int], None] | None:
        """Called once per source; the returned callback counts rows read."""
        return None

    def enforcing(self, target: str, total: int) -> Callable[[Action, ActionStatus], None] | None:
        """Called once per target; the returned callback is told each finished action."""
        return None
