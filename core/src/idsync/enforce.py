"""Enforce: carry out a target's plan through its plugin, recording every action as it goes.

The plan already read the target: it links the accounts it found (``correlate``) and chose
free unique values, so a create creates without looking again. Resources run first; then
persons run concurrently (``concurrency`` workers), each person's actions in order; a person
waits only for the manager whose account this run creates, not for a whole wave.

Every action that calls the target is written to the state store as *started* before its hook
is called and *finished* with its audit record and its effect on the shadow in one transaction
after, so a crash leaves at most the few actions in flight *in doubt*, which the next plan
resolves by reading the target. A state store that fails stops the run at once: the actions in
flight finish, no new call starts, and nothing is recorded as the target's failure.

A failed action fails only itself (a failed create also the person's actions that need the
account); the next run plans it again. A person a threshold holds is held whole. An account
that turns out to be gone from the target (an update, enable or grant answers *not found*)
loses its link, so the next run links or creates it again. An action the plugin reports
*blocked* waits, recorded once, until what it would write changes; attributes a target refuses
of an update that otherwise succeeded are recorded that way too.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import groupby
from typing import Any

from loguru import logger

from idsync.breaker import Breaker, watching
from idsync.config import TargetConfig
from idsync.correlation import value_at
from idsync.evaluate import MANAGER_KEY
from idsync.model import (
    ActionEvent,
    ActionKind,
    ActionResult,
    ActionStatus,
    HookContext,
    Person,
)
from idsync.plan import Action
from idsync.plugins import System
from idsync.secrets import redact
from idsync.state import Lease, Store, StoreFailed

__all__ = ["Enforcer", "StoreFailed", "value_at"]

_NEEDS_ACCOUNT = {
    ActionKind.UPDATE,
    ActionKind.ENABLE,
    ActionKind.DISABLE,
    ActionKind.DELETE,
    ActionKind.GRANT,
    ActionKind.REVOKE,
}
_GONE_IS_FINE = {ActionKind.DISABLE, ActionKind.DELETE, ActionKind.REVOKE}
_HEALS = {ActionKind.UPDATE, ActionKind.ENABLE, ActionKind.GRANT}
"""Actions whose *not found* means the account is gone: its link is removed."""
_FINISHED = {ActionStatus.DONE, ActionStatus.DRY_RUN}


class _Stop(Exception):
    """The person's remaining actions cannot run (a failed or blocked create, a gone account)."""


def _manager_waits(groups: Mapping[str, list[Action]]) -> dict[str, str]:
    """``{person: manager}`` for persons whose manager's account this run creates or links:
    each waits for that manager alone, so it gets the manager's reference at once. A loop of
    managers waits for nobody."""
    creating = {  # a manager whose account this run makes or links has no reference yet
        pid
        for pid, acts in groups.items()
        if any(a.kind in (ActionKind.CREATE, ActionKind.CORRELATE) for a in acts)
    }
    manager_of = {
        pid: next((a.manager for a in acts if a.manager), None) for pid, acts in groups.items()
    }
    waits = {
        pid: boss
        for pid, boss in manager_of.items()
        if boss is not None and boss != pid and boss in creating
    }
    looping = set()  # a manager chain that comes back to itself waits for nobody in it
    for start in waits:
        seen, cursor = {start}, waits.get(start)
        while cursor is not None and cursor not in seen:
            seen.add(cursor)
            cursor = waits.get(cursor)
        if cursor == start:
            looping.add(start)
    for pid in looping:
        del waits[pid]
    return waits


class Enforcer:
    """Runs one target's actions for one run."""

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

    # --- entry point -----------------------------------------------------------------

    def run(self, actions: list[Action]) -> Counter[tuple[str, str]]:
        """Carry out ``actions`` (one target's, in plan order); returns ``{(status, kind): n}``.

        Raises :class:`~idsync.state.StoreFailed` when the state store failed (after the
        actions in flight finished).
        """
        resources = [a for a in actions if a.kind is ActionKind.RESOURCE]
        # Until a resource is made (never, under dry-run), grants of it wait.
        self._missing_resources = {a.key for a in resources if a.key}
        personal = [a for a in actions if a.kind is not ActionKind.RESOURCE]
        self._unreported = {id(a) for a in actions}
        # Actions without a person (an orphan account's) each stand alone, by reference.
        groups = {
            key: list(g)
            for key, g in groupby(personal, key=lambda a: a.person or f"\0{a.reference}")
        }
        workers = max(1, self.config.concurrency)
        with ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"idsync-{self.system.name}"
        ) as pool:
            list(pool.map(self._guarded(self._one_resource), resources))
            self._schedule(pool, groups)
        if self._fatal is not None:
            raise self._fatal
        if self.failure is not None:
            raise self.failure
        return self.counts

    def _schedule(self, pool: ThreadPoolExecutor, groups: Mapping[str, list[Action]]) -> None:
        """Run every person's group; one whose manager this run creates starts when that
        manager's group is done."""
        waits = _manager_waits(groups)
        after: dict[str, list[str]] = defaultdict(list)
        for pid, boss in waits.items():
            after[boss].append(pid)
        left = len(groups)
        done = threading.Event()
        counter = threading.Lock()
        if not groups:
            return
        run_one = self._guarded(self._one_person)

        def start(key: str) -> None:
            future = pool.submit(run_one, groups[key])
            future.add_done_callback(partial(finished, key))

        def finished(key: str, _future: Future[None]) -> None:
            nonlocal left
            for follower in after.pop(key, []):
                start(follower)
            with counter:
                left -= 1
                if left == 0:
                    done.set()

        for key in groups:
            if key not in waits:
                start(key)
        done.wait()

    def _guarded(self, work: Callable[[Any], None]) -> Callable[[Any], None]:
        """``work`` that stops the run on a state store failure instead of raising."""

        def guarded(item: Any) -> None:
            if self.failure is not None or self._fatal is not None:
                return
            try:
                work(item)
            except StoreFailed as exc:
                with self._lock:
                    if self.failure is None:
                        self.failure = exc
                        self.stopped = True
                logger.bind(system=self.system.name).error("{}", exc)
            except BaseException as exc:  # the process is going down: start nothing more
                with self._lock:
                    if self._fatal is None:
                        self._fatal = exc
                        self.stopped = True

        return guarded

    def _cancelled(self) -> bool:
        return (
            self.failure is not None
            or self._fatal is not None
            or (self.cancel is not None and self.cancel.is_set())
        )

    def _stopping(self) -> bool:
        """Whether to take no new work; noted as work left undone."""
        if self._cancelled():
            self.stopped = True
            return True
        return False

    def _one_resource(self, action: Action) -> None:
        if self._stopping() or self._broken([action]):
            return
        hold = self.holds(action)
        if hold is not None:
            self._finish(action, ActionStatus.HELD, [f"held by the {hold} threshold"])
            return
        intent = self._intent(action)
        try:
            result = self._call("idsync_resource", self._ctx(action))
        except StoreFailed:
            raise
        except Exception as exc:
            self._failed(action, exc, intent)
            return
        if result.success:
            reference = result.reference
            with self._lock:
                self._resources[action.key or ""] = reference
                if not self.dry_run:
                    self._missing_resources.discard(action.key or "")
            self._finish(action, self._ok(), result.messages, reference=reference, intent=intent)
        else:
            self._finish(
                action,
                ActionStatus.FAILED,
                result.messages or ["the plugin reported failure"],
                intent=intent,
            )

    def _one_person(self, actions: list[Action]) -> None:
        if self._stopping():
            return  # take no new person
        try:
            self._person(actions)
        finally:
            for action in actions:  # an enable done by its create finished with the create
                self._progressed(action, ActionStatus.DONE)

    def _person(self, actions: list[Action]) -> None:
        person = actions[0].person or ""
        if person in self.waits:
            self._skip(actions, self.waits[person])
            return
        reference = actions[0].reference
        hold = next((h for a in actions if (h := self.holds(a)) is not None), None)
        if hold is not None:
            # A held person is held whole: a held leaver stays enabled with every permission.
            for action in actions:
                self._finish(
                    action, ActionStatus.HELD, [f"held by the {hold} threshold; approve to run it"]
                )
            return
        if self._broken(actions):
            return  # no intents opened for a stopped target
        self._open_intents(actions)
        enabled_by_create = False
        for index, action in enumerate(actions):
            if action.kind is ActionKind.ENABLE and enabled_by_create:
                continue  # recorded with the create that did it
            if self._broken(actions[index:]):
                return
            if action.kind in _NEEDS_ACCOUNT and reference is None:
                if self.dry_run:
                    self._finish(action, ActionStatus.DRY_RUN, ["would follow the create"])
                else:
                    self._skip([action], "the account has no reference")
                continue
            try:
                if action.kind is ActionKind.CREATE:
                    following = actions[index + 1] if index + 1 < len(actions) else None
                    enable = (
                        following if following and following.kind is ActionKind.ENABLE else None
                    )
                    reference, enabled_by_create = self._create(action, enable)
                else:
                    reference = self._execute(action, reference)
            except _Stop as stop:
                self._skip(actions[index + 1 :], str(stop))
                return
            except StoreFailed:
                raise
            except Exception as exc:  # a plugin bug or an unexpected answer fails one action
                self._failed(action, exc)
                if action.kind is ActionKind.CREATE:
                    self._skip(actions[index + 1 :], "create failed")
                    return
                # Anything else failed alone: the rest still runs, so a leaver whose revoke
                # failed is disabled all the same.

    # --- actions ---------------------------------------------------------------------

    def _execute(self, action: Action, reference: str | None) -> str | None:
        if action.kind is ActionKind.CORRELATE:
            return self._link(action)
        if action.kind is ActionKind.GRANT and action.key in self._missing_resources:
            if self.dry_run:
                self._finish(action, ActionStatus.DRY_RUN, ["would follow the resource"])
            else:
                self._skip([action], f"the resource {action.key} could not be made")
            return reference
        hook = f"idsync_{action.kind.value}"
        if action.kind is ActionKind.DISABLE and not self.system.implements(hook):
            # A target without a disable still records the day the account's retirement
            # started, so it is deleted after the whole grace period.
            self._finish(
                action,
                self._ok(),
                [f"{self.system.name} has no disable: retirement counted from {self.as_of}"],
                account={"enabled": False, "disabled_on": self.as_of},
                reference=reference,
            )
            return reference
        ctx = self._ctx(action, reference)
        if action.kind is ActionKind.GRANT and action.permission and action.key in self._resources:
            ctx.permission = action.permission.model_copy(
                update={"reference": self._resources[action.key]}
            )
        intent = self._intent(action, reference)
        try:
            result = self._call(hook, ctx)
        except Exception as exc:
            self._failed(action, exc, intent)
            return reference
        if result.blocked and not result.success:
            self._finish(
                action,
                ActionStatus.BLOCKED,
                result.messages or ["the plugin reported it blocked"],
                intent=intent,
            )
            return reference
        if not result.success and not (result.not_found and action.kind in _GONE_IS_FINE):
            if result.not_found and action.kind in _HEALS:
                # The account is gone from the target: the link goes, and the next run links
                # or creates it again (the audit says so).
                self._finish(
                    action,
                    ActionStatus.FAILED,
                    [
                        *result.messages,
                        f"the account {reference} no longer exists in {self.system.name}: "
                        "its link is removed; the next run links or creates the account again",
                    ],
                    account={"delete": True},
                    reference=reference,
                    intent=intent,
                )
                with self._lock:
                    self._refs.pop(action.person or "", None)
                raise _Stop("the account no longer exists")
            self._finish(
                action,
                ActionStatus.FAILED,
                result.messages or ["the plugin reported failure"],
                intent=intent,
            )
            return reference  # one failure does not hold back the person's other actions
        messages = list(result.messages)
        if result.not_found and not messages:
            messages.append("already gone")
        account: dict[str, Any] | None = None
        if action.kind is ActionKind.UPDATE:
            account = {"data": self._stored_data(action), "unique_base": action.unique_base or None}
            if result.refused:
                account["data"] = self._applied(action, result.refused)
                # A refused unique value keeps no base: the next plan still sees the rename
                # due, and reports it blocked until it changes.
                account["unique_base"] = {
                    k: v for k, v in action.unique_base.items() if k not in result.refused
                } or None
                messages.append(
                    "refused: "
                    + "; ".join(f"{k} ({why})" for k, why in sorted(result.refused.items()))
                )
            if result.reference:
                account["reference"] = reference = result.reference
        elif action.kind is ActionKind.ENABLE:
            account = {"enabled": True, "disabled_on": None}
        elif action.kind is ActionKind.DISABLE:
            account = {"enabled": False, "disabled_on": self.as_of}
        elif action.kind is ActionKind.DELETE:
            account = {"delete": True}
        perm_ref = result.reference if action.kind is ActionKind.GRANT else None
        self._finish(
            action,
            self._ok(),
            messages,
            account=account,
            reference=perm_ref or reference,
            intent=intent,
        )
        if result.refused and not self.dry_run:
            self._block_refused(action, result.refused)
        return reference

    def _create(self, action: Action, enable: Action | None) -> tuple[str | None, bool]:
        """Create the account the plan chose; returns its reference and whether the create
        also did ``enable`` (asked through ``ctx.active``): both are then recorded at once."""
        ctx = self._ctx(action)
        ctx.active = active = enable is not None
        intent = self._intent(action)
        result = self._call("idsync_create", ctx)
        if result.blocked and not result.success:
            self._finish(
                action,
                ActionStatus.BLOCKED,
                result.messages or ["the plugin reported it blocked"],
                intent=intent,
            )
            raise _Stop("the create is blocked")
        if not result.success:
            self._finish(
                action,
                ActionStatus.FAILED,
                result.messages or ["the plugin reported failure"],
                intent=intent,
            )
            raise _Stop("create failed")
        reference: str | None = result.reference
        enabled = bool(active and result.enabled)
        if reference:
            with self._lock:
                self._refs[action.person or ""] = reference
        account = {
            "reference": reference,
            "data": self._stored_data(action),
            "enabled": enabled,
            "unique_base": action.unique_base or None,
        }
        outcomes = [_Outcome(action, self._ok(), list(result.messages), account, reference, intent)]
        if enabled and enable is not None:
            outcomes.append(
                _Outcome(
                    enable,
                    self._ok(),
                    ["enabled by the create"],
                    {"enabled": True, "disabled_on": None},
                    reference,
                )
            )
        self._finish_all(outcomes)
        return reference, enabled

    def _link(self, action: Action) -> str | None:
        """Adopt the account the plan found (no call: the plan read it), as it is."""
        found = action.found
        if found is None:
            raise _Stop("the plan found no account to link")
        with self._lock:
            self._refs[action.person or ""] = found.reference
        keys = [k for k in self.config.account.mapping if not k.startswith("@")]
        keys += [k for k in self.config.account.unique if k not in keys]
        enabled = found.enabled is not False
        correlate = self.config.account.correlate
        on = f" on {correlate.account} = {found.data.get(correlate.account)!r}" if correlate else ""
        self._finish(
            action,
            self._ok(),
            [f"linked{on} to the existing account {found.reference}"],
            account={
                "reference": found.reference,
                "data": {k: found.data.get(k) for k in keys},
                "enabled": enabled,
                "disabled_on": None if enabled else self.as_of,
            },
            reference=found.reference,
        )
        return found.reference

    # --- helpers ---------------------------------------------------------------------

    def _ok(self) -> ActionStatus:
        return ActionStatus.DRY_RUN if self.dry_run else ActionStatus.DONE

    def _stored_data(self, action: Action) -> dict[str, Any]:
        data = dict(action.account)
        if (
            MANAGER_KEY in data
            and data[MANAGER_KEY] is not None
            and self._refs.get(data[MANAGER_KEY]) is None
        ):
            data[MANAGER_KEY] = None  # not written yet: the next run tries again
        return data

    def _applied(self, action: Action, refused: Mapping[str, str]) -> dict[str, Any]:
        """The account data after an update the target took in part: the refused attributes
        keep the values they had."""
        data = self._stored_data(action)
        for key in refused:
            change = action.changes.get(key)
            if change is not None:
                data[key] = change.before
        return data

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

    def _ctx(self, action: Action, reference: str | None = None) -> HookContext:
        manager_ref = self._refs.get(action.manager) if action.manager else None
        changes = {k: c for k, c in action.changes.items() if not k.startswith("@")}
        return HookContext(
            system=self.system.name,
            action=action.kind,
            dry_run=self.dry_run,
            as_of=self.as_of,
            settings=self.system.settings,
            person=self.persons.get(action.person) if action.person else None,
            account={k: v for k, v in action.account.items() if not k.startswith("@")},
            previous={k: c.before for k, c in changes.items()},
            changes=changes,
            reference=reference if reference is not None else action.reference,
            permission=action.permission,
            manager_reference=manager_ref,
            run_id=self.run_id,
        )

    def _broken(self, actions: list[Action]) -> bool:
        """Whether the target is stopped; if so, ``actions`` are skipped with the reason."""
        if not self.breaker.tripped:
            return False
        self.breaker.skipped(len(actions))
        self._skip(actions, self.breaker.reason)
        return True

    def _call(self, hook: str, ctx: HookContext) -> Any:
        if self.lease is not None and not self.dry_run:
            self.lease.check()  # the fencing token: a runner that lost its lease writes nothing
        caller = getattr(self.system.hook, hook)
        started = time.monotonic()
        with watching() as seen:
            try:
                result = caller(ctx=ctx)
            finally:
                self.breaker.record(seen, started)
        if result is None:
            raise RuntimeError(f"plugin {self.system.info.name!r} does not implement {hook}")
        if not isinstance(result, ActionResult):
            raise TypeError(f"{hook} returned {type(result).__name__}, not an ActionResult")
        return result

    def _store(self, write: Callable[..., Any], **values: Any) -> Any:
        """A write to the state store; its failure stops the run (:class:`StoreFailed`)."""
        try:
            return write(**values)
        except StoreFailed:
            raise
        except Exception as exc:
            raise StoreFailed.of(exc) from exc

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
