"""One person in one target: the account and permissions they should have, and the ordered
actions that get them there from what was applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from idsync.actions import Action
from idsync.config import TargetConfig
from idsync.evaluate import Desired, Evaluator
from idsync.lifecycle import Transition, retire, transition
from idsync.model import Account, ActionKind, Blocked, Change, Permission, Person
from idsync.state import AccountState, BlockedAction
from idsync.unique import UniqueValues, choose_unique

_ORDER = {kind: i for i, kind in enumerate(ActionKind)}


def _diff(desired: Mapping[str, Any], applied: Mapping[str, Any]) -> dict[str, Change]:
    return {
        key: Change(before=applied.get(key), after=value)
        for key, value in desired.items()
        if applied.get(key) != value
    }


def _linked(desired: Desired, found: Account, as_of: dt.date) -> AccountState:
    """The shadow a link makes of ``found``: its data under the mapping's and the unique
    attributes' keys, as it is (the enforcer records the same)."""
    keys = [k for k in (*desired.attributes, *desired.unique) if not k.startswith("@")]
    data = {k: found.data.get(k) for k in keys}
    enabled = found.enabled is not False
    return AccountState(
        person=desired.person,
        reference=found.reference,
        data=data,
        enabled=enabled,
        disabled_on=None if enabled else as_of,
    )


def _person_actions(
    target: str,
    cfg: TargetConfig,
    desired: Desired,
    shadow: AccountState | None,
    unique: UniqueValues,
    capable: Callable[[ActionKind], bool],
    *,
    present: bool,
    retiring: bool,
    found: Account | None = None,
    as_of: dt.date,
) -> tuple[list[Action], dict[str, Any]]:
    """The person's actions (their transition set on each) and the final desired attributes.

    ``found`` is an account the plan's lookups matched to a person idsync had none linked
    for: it is linked first (``correlate``), then brought to the desired state like any
    account (or, for a leaver, retired). ``retiring`` says the target will delete retired
    accounts: a target without a disable then still records the day retirement started.
    """
    pid = desired.person
    actions: list[Action] = []
    access = desired.access
    if found is not None:
        actions.append(
            Action(
                target=target,
                person=pid,
                kind=ActionKind.CORRELATE,
                reason=f"an existing account matches ({cfg.account.correlate.account if cfg.account.correlate else ''})",
                reference=found.reference,
                found=found,
            )
        )
        shadow = _linked(desired, found, as_of)
    reference = shadow.reference if shadow else None

    def add(kind: ActionKind, **values: Any) -> None:
        if not capable(kind):
            return
        actions.append(
            Action(
                target=target,
                person=pid,
                kind=kind,
                reason=desired.reason,
                reference=reference,
                **values,
            )
        )

    attributes = dict(desired.attributes)
    if access in ("pre", "enabled"):
        attributes, base = choose_unique(target, cfg, desired, shadow, unique, reference)
        if shadow is None:
            add(ActionKind.CREATE, account=attributes, unique_base=base, manager=desired.manager)
            granted: Mapping[str, str | None] = {}
        else:
            changes = _diff(attributes, shadow.data)
            if changes and (found is None or cfg.account.update_on_correlate):
                add(
                    ActionKind.UPDATE,
                    account=attributes,
                    changes=changes,
                    unique_base=base,
                    manager=desired.manager,
                )
            granted = shadow.permissions
        if access == "enabled" and (shadow is None or not shadow.enabled):
            add(ActionKind.ENABLE, account=attributes)  # where the account belongs, e.g. its OU
        for key in sorted(set(granted) - set(desired.permissions)):
            add(
                ActionKind.REVOKE, key=key, permission=Permission.parse(key, reference=granted[key])
            )
        for key in sorted(set(desired.permissions) - set(granted)):
            add(ActionKind.GRANT, key=key, permission=desired.permissions[key])
        if access == "pre" and shadow is not None and shadow.enabled:
            add(ActionKind.DISABLE)
    elif shadow is not None:
        for key in sorted(shadow.permissions):
            add(
                ActionKind.REVOKE,
                key=key,
                permission=Permission.parse(key, reference=shadow.permissions[key]),
            )
        # Also a never-enabled account: the day its retirement starts is recorded.
        if (
            access in ("disabled", "none")
            and (shadow.enabled or (shadow.disabled_on is None and found is None))
            and (capable(ActionKind.DISABLE) or retiring)
        ):
            actions.append(
                Action(
                    target=target,
                    person=pid,
                    kind=ActionKind.DISABLE,
                    reason=desired.reason,
                    reference=reference,
                )
            )
        if access == "deleted":
            add(ActionKind.DELETE)
    actions.sort(key=lambda a: _ORDER[a.kind])
    if found is not None and access not in ("pre", "enabled"):
        change: Transition | None = "leaver"  # an account found for a leaver retires
    else:
        change = transition(
            access, None if found else shadow, present=present, changes=bool(actions)
        )
    for action in actions:
        action.transition = change
    return actions, attributes


def _desired(
    pid: str,
    persons: Mapping[str, Person],
    shadow: AccountState | None,
    evaluator: Evaluator,
    cfg: TargetConfig,
    other_accounts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    as_of: dt.date,
) -> Desired | None:
    """The person's desired state in the target (``error`` set when evaluation failed), a
    vanished person's retirement, or None for neither."""
    person = persons.get(pid)
    if person is not None:
        return evaluator.evaluate(person, shadow, other_accounts.get(pid, {}))
    if shadow is not None:
        return _vanished(pid, cfg, shadow, as_of)
    return None


def _drop_blocked(
    target: str,
    actions: list[Action],
    waiting: Mapping[tuple[str, str, str], BlockedAction],
    blocked: list[Blocked],
    salt: str,
) -> list[Action]:
    """``actions`` without the ones a plugin reported blocked that would write the same
    again; each is reported as blocked instead."""
    out = []
    for action in actions:
        known = waiting.get((action.person or "", action.kind.value, action.key or ""))
        if known is not None and known.fingerprint == action.fingerprint(salt):
            blocked.append(
                Blocked(
                    person=action.person or "",
                    field=f"targets.{target}.{action.kind.value}",
                    problem=f"{known.message} (blocked since {known.since.isoformat()}; "
                    "tried again when what it writes changes)",
                    scope="action",
                )
            )
            continue
        out.append(action)
    return out


def _vanished(pid: str, cfg: TargetConfig, shadow: AccountState, as_of: dt.date) -> Desired:
    """A person idsync manages an account for who is no longer in any source (after the
    source's grace for missing persons): the account retires like a leaver's."""
    stand = retire("person is no longer in the source", shadow, cfg.account.lifecycle, as_of)
    if stand.access == "deleted":
        return Desired(person=pid, access=stand.access, reason=stand.reason)
    return Desired(
        person=pid, access=stand.access, reason=stand.reason, attributes=dict(shadow.data)
    )
