"""The workers: resources first, then persons concurrently (``concurrency`` workers), each
person's actions in order; a person waits only for the manager whose account this run
creates. A cancel, or a failed state store, stops new work while the work in flight
finishes."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import groupby
from typing import Any

from loguru import logger

from idsync.enforce.actions import _NEEDS_ACCOUNT, _Actions, _Stop
from idsync.model import ActionKind, ActionStatus
from idsync.plan import Action
from idsync.state import StoreFailed


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


class Enforcer(_Actions):
    """Runs one target's actions for one run."""

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
