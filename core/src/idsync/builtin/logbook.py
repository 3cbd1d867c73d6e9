"""The built-in observer that writes one log line per finished action and per run."""

from __future__ import annotations

from loguru import logger

from idsync.hookspecs import hookimpl
from idsync.model import ActionEvent, ActionStatus, RunSummary


class ActionLog:
    """Log every finished action (failures as warnings) and each run's totals."""

    @hookimpl
    def idsync_action_finished(self, event: ActionEvent) -> None:
        """One line per action, with run, system, person and action bound."""
        log = logger.bind(
            run=event.run_id, system=event.system, person=event.person, action=event.kind.value
        )
        what = f"{event.kind.value} {event.target_key}" if event.target_key else event.kind.value
        detail = "; ".join(event.messages)
        if event.status is ActionStatus.FAILED:
            log.warning("{} failed: {}", what, detail)
        else:
            log.debug("{} {}{}", what, event.status.value, f": {detail}" if detail else "")

    @hookimpl
    def idsync_run_finished(self, summary: RunSummary) -> None:
        """One line per run with the totals."""
        done = sum(summary.counts.get("done", {}).values())
        logger.bind(run=summary.run_id).info(
            "run {} finished: {} done, {} failed, {} blocked, {} held (exit {})",
            summary.run_id,
            done,
            summary.failed,
            len(summary.blocked),
            len(summary.held),
            summary.exit_code,
        )
