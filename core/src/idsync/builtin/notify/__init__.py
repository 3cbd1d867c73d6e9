"""Notifications: e-mail and webhooks about what a run did, one message per recipient per run.

A built-in plugin, written on the same hooks as any other: it contributes the pipeline file's
``notifications:`` section (``idsync_pipeline_sections``) and observes runs
(``idsync_action_finished``, ``idsync_run_finished``); the engine knows nothing of it beyond
those hooks. Each engine has its own :class:`Notifier`, which collects the run's events as they
happen and sends when the run finishes: every e-mail recipient gets one mail listing all of
their events, every webhook one POST, never one message per action. Rules say which event kinds
go where; recipients are fixed addresses or templates computed per event
(``{{ manager.contact.email }}``), and subjects and bodies are templates, all in the same
sandboxed expression language as the mappings.

Event kinds: ``created``, ``linked``, ``updated``, ``enabled``, ``disabled``, ``deleted``,
``granted``, ``revoked`` (actions done), ``failed`` (any action that failed), ``held`` (work held
by a threshold) and ``blocked`` (a person a source could not deliver). A notifier that cannot
reach its mail server or webhook logs a warning; it never fails the run or an action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from loguru import logger
from pydantic import BaseModel

from idsync.builtin.notify import _deliver
from idsync.builtin.notify._compose import compose
from idsync.builtin.notify.settings import (
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    EVENT_KINDS,
    EventKind,
    NotificationRule,
    Notifications,
    SmtpSettings,
    Webhook,
)
from idsync.expressions import Expressions
from idsync.hookspecs import hookimpl
from idsync.model import ActionEvent, ActionStatus, RunSummary

if TYPE_CHECKING:
    from idsync.config import Pipeline
    from idsync.state import Store

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "EVENT_KINDS",
    "SECTION",
    "EventKind",
    "NotificationRule",
    "Notifications",
    "Notifier",
    "SmtpSettings",
    "Webhook",
]

SECTION = "notifications"
"""The pipeline file's key this plugin reads."""

_COLLECTED = (ActionStatus.DONE, ActionStatus.FAILED, ActionStatus.DRY_RUN)


class Notifier:
    """The notifier of one engine: collects each run's events and sends them when it ends.

    Its hooks are called from one thread per engine (the engine's observer thread), so it
    keeps its events without a lock; a pipeline without a ``notifications:`` section is not
    collected at all.
    """

    def __init__(self) -> None:
        self._events: dict[int, list[ActionEvent]] = {}
        self._expressions = Expressions()

    @hookimpl
    def idsync_pipeline_sections(self) -> Mapping[str, type[BaseModel]]:
        """The ``notifications:`` section."""
        return {SECTION: Notifications}

    @hookimpl
    def idsync_action_finished(self, event: ActionEvent, pipeline: Pipeline) -> None:
        """Collect a finished action of interest (done, dry-run or failed)."""
        if event.status in _COLLECTED and pipeline.section(SECTION) is not None:
            self._events.setdefault(event.run_id, []).append(event)

    @hookimpl
    def idsync_run_finished(self, summary: RunSummary, pipeline: Pipeline, store: Store) -> None:
        """Send the run's notifications; a failure to send is logged, never raised."""
        events = self._events.pop(summary.run_id, [])
        config = pipeline.section(SECTION)
        if not isinstance(config, Notifications) or (summary.dry_run and not config.dry_run):
            return
        try:
            outbox = compose(
                config,
                self._expressions,
                store,
                pipeline.sources,
                str(pipeline.path or f"{pipeline.label}.yaml"),
                summary,
                events,
            )
            if outbox.mails and config.smtp is not None:
                _deliver.send_mails(config.smtp, outbox.mails, summary.run_id)
            for post in outbox.posts:
                _deliver.post(config.webhooks[post.webhook], post, summary.run_id)
        except Exception as exc:
            logger.bind(run=summary.run_id).warning(
                "notifications for run {} failed: {}", summary.run_id, _deliver.describe(exc)
            )
