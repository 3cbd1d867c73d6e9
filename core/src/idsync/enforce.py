"""Enforce: carry out a target's plan through its plugin, recording every action at once.

Resources run first; then persons run concurrently (``concurrency`` workers), each person's
actions in order. Creating is always *correlate first*: an account that already exists (made by
hand, or by a run that was killed before it could record it) is linked, never duplicated.
Unique attributes are checked with the target before create, with the remaining candidates
tried in turn. Every finished action is written to the state store with its audit record in one
transaction, then handed to the observers. A failed action fails only itself and the actions
of the same person that depend on it; the next run plans it again. A person a threshold holds
is held whole: none of their actions runs. An account that turns out to be gone from the target
(an update, enable or grant answers *not found*) loses its link, so the next run links or
creates it again. An action the plugin reports *blocked* waits, recorded once, until what it
would write changes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

from loguru import logger

from idsync.config import TargetConfig
from idsync.evaluate import MANAGER_KEY
from idsync.model import (
    Account,
    ActionEvent,
    ActionKind,
    ActionResult,
    ActionStatus,
    Change,
    Correlation,
    HookContext,
    Person,
)
from idsync.plan import Action
from idsync.plugins import System
from idsync.secrets import redact
from idsync.state import Store

__all__ = ["Enforcer", "value_at"]

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


class _Stop(Exception):
    """The person's remaining actions cannot run (a failure, a dispute, a held create)."""


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``name.family``) in objects and mappings; None when a
    step is missing."""
    for part in path.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, Mapping) else getattr(obj, part, None)
    return obj


def _by_manager_level(groups: list[list[Action]]) -> list[list[list[Action]]]:
    """Persons in waves: a manager whose account this run creates goes a wave before the
    persons they manage, so those get the manager's reference at once. Most runs: one wave."""
    created = {g[0].person for g in groups if any(a.kind is ActionKind.CREATE for a in g)}
    manager_of = {g[0].person: next((a.manager for a in g if a.manager), None) for g in groups}
    levels: dict[str | None, int] = {}

    def level(person: str | None, depth: int = 0) -> int:
        if person in levels:
            return levels[person]
        boss = manager_of.get(person)
        levels[person] = 0  # guards against manager loops
        if boss is not None and boss in created and boss != person and depth < 50:
            levels[person] = level(boss, depth + 1) + 1
        return levels[person]

    waves: dict[int, list[list[Action]]] = {}
    for group in groups:
        waves.setdefault(level(group[0].person), []).append(group)
    return [waves[n] for n in sorted(waves)]


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
        progress: Callable[[Action, ActionStatus], None] | None = None,
        cancel: threading.Event | None = None,
        link_only: bool = False,
    ) -> None:
        """``holds`` names the threshold holding an action (and, for a person's action, all
        of theirs), or None. ``blocked`` are the ``(person, kind, key)`` of actions reported
        blocked before (forgotten once done). ``cancel``, once set, stops the workers from
        taking new persons (the person in flight finishes). ``link_only`` makes a create only
        ever link an existing account (reconciliation's ``--link``): one that is not found
        fails instead of being created."""
        self.system = system
        self.config = config
        self.store = store
        self.run_id = run_id
        self.as_of = as_of
        self.dry_run = dry_run
        self.persons = persons
        self.holds = holds or (lambda _action: None)
        self.blocked = blocked
        self.progress = progress
        self.cancel = cancel
        self.link_only = link_only
        self.stopped = False
        """Whether ``cancel`` left work of this run undone."""
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._refs: dict[str, str | None] = store.references(system.name)
        self._owners: dict[str, str] = {ref: pid for pid, ref in self._refs.items() if ref}
        self._resources: dict[str, str | None] = store.resources(system.name)
        self._reserved: set[tuple[str, Any]] = set()
        self._missing_resources: set[str] = set()

    # --- entry point -----------------------------------------------------------------

    def run(self, actions: list[Action]) -> Counter[tuple[str, str]]:
        """Carry out ``actions`` (one target's, in plan order); returns ``{(status, kind): n}``."""
        resources = [a for a in actions if a.kind is ActionKind.RESOURCE]
        # Until a resource is made (never, under dry-run), grants of it wait.
        self._missing_resources = {a.key for a in resources if a.key}
        personal = [a for a in actions if a.kind is not ActionKind.RESOURCE]
        for action in personal:
            for attribute in action.candidates:
                self._reserved.add((attribute, action.account.get(attribute)))
        # Actions without a person (an orphan account's) each stand alone, by reference.
        groups = [
            list(g) for _, g in groupby(personal, key=lambda a: a.person or f"\0{a.reference}")
        ]
        workers = max(1, self.config.concurrency)
        with ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"idsync-{self.system.name}"
        ) as pool:
            list(pool.map(self._one_resource, resources))
            for wave in _by_manager_level(groups):
                if self._cancelled():
                    self.stopped = True
                    break
                list(pool.map(self._one_person, wave))
        return self.counts

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _stopping(self) -> bool:
        """Whether to take no new work; noted as work left undone."""
        if self._cancelled():
            self.stopped = True
            return True
        return False

    def _one_resource(self, action: Action) -> None:
        if self._stopping():
            return
        hold = self.holds(action)
        if hold is not None:
            self._finish(action, ActionStatus.HELD, [f"held by the {hold} threshold"])
            return
        try:
            result = self._call("idsync_resource", self._ctx(action))
        except Exception as exc:
            self._failed(action, exc)
            return
        if result.success:
            reference = result.reference
            with self._lock:
                self._resources[action.key or ""] = reference
                if not self.dry_run:
                    self._missing_resources.discard(action.key or "")
            self._finish(action, self._ok(), result.messages, reference=reference)
        else:
            self._finish(
                action, ActionStatus.FAILED, result.messages or ["the plugin reported failure"]
            )

    def _one_person(self, actions: list[Action]) -> None:
        if self._stopping():
            return  # take no new person
        reference = actions[0].reference
        hold = next((h for a in actions if (h := self.holds(a)) is not None), None)
        if hold is not None:
            # A held person is held whole: a held leaver stays enabled with every permission.
            for action in actions:
                self._finish(
                    action, ActionStatus.HELD, [f"held by the {hold} threshold; approve to run it"]
                )
            return
        for index, action in enumerate(actions):
            if action.kind in _NEEDS_ACCOUNT and reference is None:
                if self.dry_run:
                    self._finish(action, ActionStatus.DRY_RUN, ["would follow the create"])
                else:
                    self._skip([action], "the account has no reference")
                continue
            try:
                reference = self._execute(action, reference)
            except _Stop as stop:
                self._skip(actions[index + 1 :], str(stop))
                return
            except Exception as exc:  # a plugin bug or an unexpected answer fails one action
                self._failed(action, exc)
                if action.kind is ActionKind.CREATE:
                    self._skip(actions[index + 1 :], "create failed")
                    return
                # Anything else failed alone: the rest still runs, so a leaver whose revoke
                # failed is disabled all the same.

    # --- actions ---------------------------------------------------------------------

    def _execute(self, action: Action, reference: str | None) -> str | None:
        if action.kind is ActionKind.CREATE:
            return self._create(action)
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
        result = self._call(hook, ctx)
        if result.blocked and not result.success:
            self._finish(
                action, ActionStatus.BLOCKED, result.messages or ["the plugin reported it blocked"]
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
                )
                with self._lock:
                    self._refs.pop(action.person or "", None)
                    self._owners.pop(reference or "", None)
                raise _Stop("the account no longer exists")
            self._finish(
                action, ActionStatus.FAILED, result.messages or ["the plugin reported failure"]
            )
            return reference  # one failure does not hold back the person's other actions
        messages = list(result.messages)
        if result.not_found and not messages:
            messages.append("already gone")
        account: dict[str, Any] | None = None
        if action.kind is ActionKind.UPDATE:
            account = {"data": self._stored_data(action), "unique_base": action.unique_base or None}
            if result.reference:
                account["reference"] = reference = result.reference
        elif action.kind is ActionKind.ENABLE:
            account = {"enabled": True, "disabled_on": None}
        elif action.kind is ActionKind.DISABLE:
            account = {"enabled": False, "disabled_on": self.as_of}
        elif action.kind is ActionKind.DELETE:
            account = {"delete": True}
        perm_ref = result.reference if action.kind is ActionKind.GRANT else None
        self._finish(action, self._ok(), messages, account=account, reference=perm_ref or reference)
        return reference

    def _create(self, action: Action) -> str | None:
        correlate = self.config.account.correlate
        if correlate is not None:
            value = self._correlation_value(action, correlate.person)
            ctx = self._ctx(action)
            ctx.action = ActionKind.CORRELATE
            ctx.correlation = Correlation(
                person_field=correlate.person, account_field=correlate.account, value=value
            )
            matches: list[Account] = list(self._call("idsync_correlate", ctx) or [])
            if len(matches) > 1:
                refs = ", ".join(m.reference for m in matches[:5])
                self._finish(
                    action,
                    ActionStatus.FAILED,
                    [
                        f"disputed: {len(matches)} accounts have {correlate.account} = {value!r} ({refs})"
                    ],
                )
                raise _Stop("disputed correlation")
            if matches:
                owner = self._owners.get(matches[0].reference)
                if owner is not None and owner != action.person:
                    self._finish(
                        action,
                        ActionStatus.FAILED,
                        [
                            f"disputed: the account with {correlate.account} = {value!r} "
                            f"({matches[0].reference}) is already linked to person {owner}"
                        ],
                    )
                    raise _Stop("disputed correlation")
                return self._link(action, matches[0], correlate.account, value)
        if self.link_only:
            why = (
                f"no account has {correlate.account} = {value!r} any more"
                if correlate is not None
                else "no correlation is configured"
            )
            self._finish(action, ActionStatus.FAILED, [f"nothing to link: {why}"])
            raise _Stop("nothing to link")
        self._choose_unique(action)
        result = self._call("idsync_create", self._ctx(action))
        if result.blocked and not result.success:
            self._finish(
                action, ActionStatus.BLOCKED, result.messages or ["the plugin reported it blocked"]
            )
            raise _Stop("the create is blocked")
        if not result.success:
            self._finish(
                action, ActionStatus.FAILED, result.messages or ["the plugin reported failure"]
            )
            raise _Stop("create failed")
        reference: str | None = result.reference
        if reference:
            with self._lock:
                self._refs[action.person or ""] = reference
                self._owners[reference] = action.person or ""
        account = {
            "reference": reference,
            "data": self._stored_data(action),
            "enabled": False,
            "unique_base": action.unique_base or None,
        }
        self._finish(action, self._ok(), result.messages, account=account, reference=reference)
        return reference

    def _link(self, action: Action, match: Account, field: str, value: Any) -> str:
        """Adopt an existing account, then bring its attributes to the desired state."""
        with self._lock:
            self._refs[action.person or ""] = match.reference
            self._owners[match.reference] = action.person or ""
        linked = action.replace(kind=ActionKind.CORRELATE, changes={})
        current = {k: match.data.get(k) for k in action.account if not k.startswith("@")}
        self._finish(
            linked,
            self._ok(),
            [f"linked to the existing account with {field} = {value!r}"],
            account={
                "reference": match.reference,
                "data": current,
                "enabled": bool(match.enabled),
                "unique_base": action.unique_base or None,
            },
            reference=match.reference,
        )
        changes = {
            k: Change(before=match.data.get(k), after=v)
            for k, v in action.account.items()
            if not k.startswith("@") and match.data.get(k) != v
        }
        if action.manager:
            changes[MANAGER_KEY] = Change(before=None, after=action.manager)
        if changes and self.config.account.update_on_correlate:
            update = action.replace(kind=ActionKind.UPDATE, changes=changes)
            self._execute(update, match.reference)
        return match.reference

    def _correlation_value(self, action: Action, path: str) -> Any:
        if path.startswith("account."):
            return action.account.get(path.removeprefix("account."))
        person = self.persons.get(action.person or "")
        return value_at(person, path.removeprefix("person."))

    def _choose_unique(self, action: Action) -> None:
        """Make sure each unique attribute's value is free in the target, or take the next."""
        if not action.candidates or not self.system.implements("idsync_attribute_available"):
            return
        for attribute, rest in action.candidates.items():
            value = action.account.get(attribute)
            # The rest is rendered only when the planned value turns out to be taken.
            for option in itertools.chain((value,), rest):
                with self._lock:
                    if option != value and (attribute, option) in self._reserved:
                        continue
                    self._reserved.add((attribute, option))
                ctx = self._ctx(action)
                free = self.system.hook.idsync_attribute_available(
                    ctx=ctx, attribute=attribute, value=option
                )
                if free is not False:
                    if option != value:  # a create's changes follow its account
                        action.account = {**action.account, attribute: option}
                    break
            else:
                self._finish(
                    action,
                    ActionStatus.FAILED,
                    [f"no free value for the unique attribute {attribute}"],
                )
                raise _Stop("no unique value")

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

    def _call(self, hook: str, ctx: HookContext) -> Any:
        caller = getattr(self.system.hook, hook)
        result = caller(ctx=ctx)
        if result is None:
            raise RuntimeError(f"plugin {self.system.info.name!r} does not implement {hook}")
        if hook != "idsync_correlate" and not isinstance(result, ActionResult):
            raise TypeError(f"{hook} returned {type(result).__name__}, not an ActionResult")
        return result

    def _failed(self, action: Action, exc: Exception) -> None:
        text = redact(str(exc)) or type(exc).__name__
        logger.bind(system=self.system.name, person=action.person, action=action.kind.value).debug(
            "{} raised {}: {}", action.kind.value, type(exc).__name__, text
        )
        self._finish(action, ActionStatus.FAILED, [text])

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
    ) -> None:
        messages = [redact(str(m)) for m in messages]
        planned = action.changes  # a create's are derived from its account: read them once
        changes = {k: v.model_dump(mode="json") for k, v in planned.items()}
        which = (action.person or "", action.kind.value, action.key or "")
        self.store.record(
            blocked=(action.fingerprint(self.system.digest), self.as_of)
            if status is ActionStatus.BLOCKED
            else None,
            unblocked=status is ActionStatus.DONE and which in self.blocked,
            run_id=self.run_id,
            target=self.system.name,
            person=action.person,
            kind=action.kind.value,
            status=status.value,
            key=action.key,
            reference=reference,
            changes=changes,
            messages=messages,
            dry_run=self.dry_run,
            account=account,
        )
        with self._lock:
            self.counts[(status.value, action.kind.value)] += 1
        event = ActionEvent(
            run_id=self.run_id,
            system=self.system.name,
            person=action.person,
            kind=action.kind,
            status=status,
            target_key=action.key,
            changes=planned,
            messages=messages,
            reference=reference,
            dry_run=self.dry_run,
        )
        self.system.notify("idsync_action_finished", event=event)
        if self.progress is not None:
            self.progress(action, status)
