"""How a target's actions end: each recorded as *started* before its hook is called and
*finished* with its audit record and its effect on the shadow in one transaction after, and
counted for the run and its progress."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from idsync.breaker import Breaker
from idsync.config import TargetConfig
from idsync.model import ActionEvent, ActionKind, ActionStatus, Person
from idsync.plan import Action
from idsync.plugins import System
from idsync.secrets import redact
from idsync.state import Lease, Store, StoreFailed

_FINISHED = {ActionStatus.DONE, ActionStatus.DRY_RUN}


class _Results:
    """One target's run: what it was given, and the record of how its actions end."""

    def __init__(
        self,
        system: System,
        config: TargetConfig,
        store: Store,
        *,
        run_id: int,
        as_of: dt.date,
        dry_run: bool,
        persons: Mapping[str, Person],
        holds: Callable[[Action], str | None] | None = None,
        blocked: Collection[tuple[str, str, str]] = (),
        waits: Mapping[str, str] | None = None,
        progress: Callable[[Action, ActionStatus], None] | None = None,
        cancel: threading.Event | None = None,
        breaker: Breaker | None = None,
        lease: Lease | None = None,
    ) -> None:
        """``holds`` names the threshold holding an action (and, for a person's action, all
        of theirs), or None. ``blocked`` are the ``(person, kind, key)`` of actions reported
        blocked before (forgotten once done). ``waits`` are persons whose actions wait for
        another target's unfinished work (person → why). ``cancel``, once set, stops the
        workers from taking new persons (the person in flight finishes). ``breaker`` is the
        target's for this run, shared with the plan's reads of it (a new one when None).
        ``lease`` is the pipeline's, checked before every call to the target: a lost lease
        stops the run like a failed store."""
        self.system = system
        self.config = config
        self.store = store
        self.run_id = run_id
        self.as_of = as_of
        self.dry_run = dry_run
        self.persons = persons
        self.holds = holds or (lambda _action: None)
        self.blocked = blocked
        self.waits = waits or {}
        self.progress = progress
        self.cancel = cancel
        self.lease = lease
        self.stopped = False
        """Whether ``cancel`` (or a failed store) left work of this run undone."""
        self.failure: StoreFailed | None = None
        """The state store's failure that stopped the run, if one did."""
        self.counts: Counter[tuple[str, str]] = Counter()
        self.unfinished: set[str] = set()
        """Persons with an action that did not finish (failed, held, blocked, skipped)."""
        self.breaker = breaker or Breaker(system.name)
        """Stops this target's work when it refuses the credentials or cannot be reached."""
        self._lock = threading.Lock()
        self._refs: dict[str, str | None] = store.references(system.name)
        self._resources: dict[str, str | None] = store.resources(system.name)
        self._missing_resources: set[str] = set()
        self._fatal: BaseException | None = None
        self._open: dict[int, int] = {}
        """``{id(action): intent id}`` of the actions recorded as started, not yet finished."""
        self._unreported: set[int] = set()
        """The planned actions not yet counted by ``progress`` (a link or the update after
        it is not one of them: the progress counts the plan's actions, each once)."""

    def _store(self, write: Callable[..., Any], **values: Any) -> Any:
        """A write to the state store; its failure stops the run (:class:`StoreFailed`)."""
        try:
            return write(**values)
        except StoreFailed:
            raise
        except Exception as exc:
            raise StoreFailed.of(exc) from exc

    def _block_refused(self, action: Action, refused: Mapping[str, str]) -> None:
        """Remember the refused part of an update as a blocked update: the next plan, which
        would write just those attributes again, reports it instead."""
        rest = action.replace(changes={k: c for k, c in action.changes.items() if k in refused})
        self._store(
            self.store.block,
            run_id=self.run_id,
            target=self.system.name,
            person=action.person or "",
            kind=action.kind.value,
            key=action.key,
            fingerprint=rest.fingerprint(self.system.digest),
            message="; ".join(f"{k}: {why}" for k, why in sorted(refused.items())),
            on=self.as_of,
        )

    def _open_intents(self, actions: list[Action]) -> None:
        """Record the person's actions that may call the target as started, in one
        transaction before the first call (not under dry-run): after a crash, each of them
        that did not finish is in doubt, and the next plan decides it again."""
        if self.dry_run:
            return
        calling = [a for a in actions if a.kind is not ActionKind.CORRELATE]
        if not calling:
            return
        ids = self._store(
            self.store.start_intents,
            run_id=self.run_id,
            target=self.system.name,
            actions=[(a.person, a.kind.value, a.key, a.reference) for a in calling],
        )
        with self._lock:
            self._open.update(zip(map(id, calling), ids, strict=True))

    def _intent(self, action: Action, reference: str | None = None) -> int | None:
        """The started intent of ``action``; one is recorded now when its person's were not
        (a resource), never under dry-run."""
        if self.dry_run:
            return None
        with self._lock:
            opened = self._open.get(id(action))
        if opened is not None:
            return opened
        return int(
            self._store(
                self.store.start_intent,
                run_id=self.run_id,
                target=self.system.name,
                person=action.person,
                kind=action.kind.value,
                key=action.key,
                reference=reference or action.reference,
            )
        )

    def _failed(self, action: Action, exc: Exception, intent: int | None = None) -> None:
        if isinstance(exc, StoreFailed):
            raise exc
        text = redact(str(exc)) or type(exc).__name__
        logger.bind(system=self.system.name, person=action.person, action=action.kind.value).debug(
            "{} raised {}: {}", action.kind.value, type(exc).__name__, text
        )
        self._finish(action, ActionStatus.FAILED, [text], intent=intent)

    def _skip(self, actions: Iterable[Action], why: str) -> None:
        for action in actions:
            self._finish(action, ActionStatus.SKIPPED, [why])

    def _finish(
        self,
        action: Action,
        status: ActionStatus,
        messages: Iterable[str],
        *,
        account: Mapping[str, Any] | None = None,
        reference: str | None = None,
        intent: int | None = None,
    ) -> None:
        """Record how ``action`` ended (one transaction), then tell the observers."""
        self._finish_all([_Outcome(action, status, list(messages), account, reference, intent)])

    def _finish_all(self, outcomes: list[_Outcome]) -> None:
        """Record several actions' outcomes in one transaction, then tell the observers."""
        entries = []
        for outcome in outcomes:
            action, status = outcome.action, outcome.status
            with self._lock:
                opened = self._open.pop(id(action), None)
            outcome.messages = [redact(str(m)) for m in outcome.messages]
            planned = action.changes  # a create's are derived from its account: read once
            outcome.planned = planned
            which = (action.person or "", action.kind.value, action.key or "")
            entries.append(
                {
                    "blocked": (action.fingerprint(self.system.digest), self.as_of)
                    if status is ActionStatus.BLOCKED
                    else None,
                    "unblocked": status is ActionStatus.DONE and which in self.blocked,
                    "run_id": self.run_id,
                    "target": self.system.name,
                    "person": action.person,
                    "kind": action.kind.value,
                    "status": status.value,
                    "key": action.key,
                    "reference": outcome.reference,
                    "changes": {k: v.model_dump(mode="json") for k, v in planned.items()},
                    "messages": outcome.messages,
                    "dry_run": self.dry_run,
                    "account": outcome.account,
                    "intent": outcome.intent if outcome.intent is not None else opened,
                }
            )
        self._store(self.store.record_all, entries=entries)
        for outcome in outcomes:
            action, status = outcome.action, outcome.status
            with self._lock:
                self.counts[(status.value, action.kind.value)] += 1
                if status not in _FINISHED and action.person:
                    self.unfinished.add(action.person)
            event = ActionEvent(
                run_id=self.run_id,
                system=self.system.name,
                person=action.person,
                kind=action.kind,
                status=status,
                target_key=action.key,
                changes=outcome.planned,
                messages=outcome.messages,
                reference=outcome.reference,
                dry_run=self.dry_run,
            )
            self.system.observers.action_finished(event)
            self._progressed(action, status)

    def _progressed(self, action: Action, status: ActionStatus) -> None:
        """Tell ``progress`` of a planned action, once."""
        if self.progress is None:
            return
        with self._lock:
            if id(action) not in self._unreported:
                return
            self._unreported.discard(id(action))
        self.progress(action, status)


@dataclass
class _Outcome:
    """How one action ended, as :meth:`Enforcer._finish_all` records it."""

    action: Action
    status: ActionStatus
    messages: list[str]
    account: Mapping[str, Any] | None = None
    reference: str | None = None
    intent: int | None = None
    planned: Mapping[str, Any] = field(default_factory=dict)
