"""Carrying out one action through the target's plugin: the hook call, what its answer means
(a gone account, a blocked action, refused attributes), and the create and link that give a
person's other actions their account."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from idsync.breaker import watching
from idsync.enforce.results import _Outcome, _Results
from idsync.evaluate import MANAGER_KEY
from idsync.model import ActionKind, ActionResult, ActionStatus, HookContext
from idsync.plan import Action

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
    """The person's remaining actions cannot run (a failed or blocked create, a gone account)."""


class _Actions(_Results):
    """The calls of one action and of the create or link the others need."""

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
