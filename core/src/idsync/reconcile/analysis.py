"""Situation analysis: which of midPoint's situations each account of a target is in.

:func:`analyse` compares what a target lists with the state store's links and the plan, and
says what it found (:class:`TargetFindings`, as ``idsync reconcile`` reports it) and what a
fix could act on (:class:`Analysis`). It reads nothing and changes nothing itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idsync.config import TargetConfig
from idsync.enforce import value_at
from idsync.model import Account, ActionKind, Person
from idsync.plan import Action, TargetPlan
from idsync.secrets import redact_data
from idsync.state import AccountState

__all__ = ["Analysis", "Drift", "TargetFindings", "analyse", "deleted", "norm"]

_LABEL_KEYS = ("userName", "name", "displayName", "email", "mail", "UPN")
_DELETED_FLAGS = ("isDeleted", "deleted")


def norm(value: Any) -> Any:
    """A value as reconciliation compares it: text stripped and without regard to case."""
    return value.strip().casefold() if isinstance(value, str) else value


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return bool(norm(a) == norm(b)) if isinstance(a, str) and isinstance(b, str) else a == b


def deleted(account: Account) -> bool:
    """A soft-deleted account (the target keeps it, flagged): not an orphan to act on."""
    return any(account.data.get(flag) is True for flag in _DELETED_FLAGS)


@dataclass
class TargetFindings:
    """What reconciliation found in one target."""

    target: str
    accounts: int = 0
    linked: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    unlinked: list[dict[str, Any]] = field(default_factory=list)
    disputed: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The findings as ``--json`` prints them."""
        data: dict[str, Any] = redact_data(
            {
                "accounts": self.accounts,
                "linked": self.linked,
                "unmatched": self.unmatched,
                "excluded": self.excluded,
                "unlinked": self.unlinked,
                "disputed": self.disputed,
                "drift": self.drift,
                "missing": self.missing,
                "notes": self.notes,
                "error": self.error,
            }
        )
        return data


@dataclass
class Drift:
    """A linked account that differs from what was applied, and what the rules want now."""

    person: str
    shadow: AccountState
    attributes: dict[str, dict[str, Any]]
    """``{attribute: {"applied", "actual", "desired"}}``"""
    enabled: dict[str, Any] | None
    """``{"applied", "actual"}`` when the account's enabled state differs; else None."""
    want_enabled: bool | None
    """The enabled state the rules want now."""
    missing: list[str]
    """Memberships applied that the account lacks (and the rules still want)."""
    extra: list[str]
    """Managed memberships the account holds beyond what was applied (and the rules want)."""
    deleting: bool
    """The plan deletes the account anyway: nothing to restore."""

    def as_json(self) -> dict[str, Any]:
        """The drift as the findings report it."""
        out: dict[str, Any] = {}
        if self.attributes:
            out["attributes"] = self.attributes
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.missing:
            out["missing"] = self.missing
        if self.extra:
            out["extra"] = self.extra
        return out


@dataclass
class Analysis:
    """One target's findings, and the accounts a fix may act on."""

    findings: TargetFindings
    base: int = 1
    """The population thresholds are measured against: the accounts in the target."""
    orphans: list[tuple[Account, str]] = field(default_factory=list)
    """Enabled unmatched accounts, each with its label."""
    unlinked: list[tuple[str, Account]] = field(default_factory=list)
    """Unlinked accounts of entitled persons: ``(person, account)``."""
    drifted: list[Drift] = field(default_factory=list)
    planned: dict[str, list[Action]] = field(default_factory=dict)
    """The plan's actions per person (a fix takes the plan's link and update from them)."""


def analyse(
    name: str,
    cfg: TargetConfig,
    listed: list[Account],
    shadows: Mapping[str, AccountState],
    exclusions: Iterable[Mapping[str, Any]],
    resources: Iterable[str],
    target_plan: TargetPlan,
    persons: Mapping[str, Person],
    as_of: dt.date,
) -> Analysis:
    """Put every account ``listed`` by target ``name`` in its situation."""
    findings = TargetFindings(target=name)
    live = [a for a in listed if not deleted(a)]
    findings.accounts = len(live)
    out = Analysis(findings=findings, base=max(len(live), len(shadows), 1))
    actions: dict[str, list[Action]] = defaultdict(list)
    for action in target_plan.actions:
        if action.person is not None:
            actions[action.person].append(action)
    out.planned = actions
    creates = {
        pid: a
        for pid, acts in actions.items()
        for a in acts
        if a.kind in (ActionKind.CREATE, ActionKind.CORRELATE) and a.transition == "joiner"
    }
    correlate = cfg.account.correlate
    label_key = correlate.account if correlate else None

    def label(account: Account) -> str:
        for key in (label_key, *_LABEL_KEYS):
            if key and account.data.get(key) not in (None, ""):
                return str(account.data[key])
        return account.reference

    def describe(account: Account) -> dict[str, Any]:
        return {
            "reference": account.reference,
            "label": label(account),
            "enabled": account.enabled,
            "permissions": sorted(account.permissions),
        }

    owners: dict[str, list[str]] = defaultdict(list)
    for pid, shadow in shadows.items():
        if shadow.reference:
            owners[norm(shadow.reference)].append(pid)
    by_value: dict[Any, list[str]] = defaultdict(list)
    if correlate is not None:
        for pid, person in persons.items():
            value = _correlation_value(correlate.person, person, shadows.get(pid), creates.get(pid))
            if value not in (None, ""):
                by_value[norm(value)].append(pid)
    excluded = {norm(e["reference"]): e for e in exclusions}
    unlinked: dict[str, list[Account]] = defaultdict(list)
    for account in live:
        linked_to = owners.get(norm(account.reference), [])
        if len(linked_to) > 1:
            findings.disputed.append(
                {
                    **describe(account),
                    "persons": sorted(linked_to),
                    "reason": "several persons are linked to this account",
                }
            )
        if linked_to:
            continue
        value = account.data.get(correlate.account) if correlate else None
        candidates = by_value.get(norm(value), []) if value not in (None, "") else []
        if not candidates:
            exclusion = excluded.get(norm(account.reference))
            entry = describe(account)
            if exclusion is not None and exclusion["until"] >= as_of:
                entry.update(until=exclusion["until"].isoformat(), reason=exclusion["reason"])
                findings.excluded.append(entry)
                continue
            entry["expired"] = exclusion["until"].isoformat() if exclusion else None
            findings.unmatched.append(entry)
            if account.enabled is not False:
                out.orphans.append((account, label(account)))
        elif len(candidates) > 1:
            findings.disputed.append(
                {
                    **describe(account),
                    "persons": sorted(candidates),
                    "reason": f"several persons correlate ({correlate.account if correlate else ''} = {value!r})",
                }
            )
        elif candidates[0] in shadows:
            findings.disputed.append(
                {
                    **describe(account),
                    "persons": candidates,
                    "reason": f"person {candidates[0]} correlates but is linked to "
                    f"{shadows[candidates[0]].reference}",
                }
            )
        else:
            unlinked[candidates[0]].append(account)
    for pid, accounts in sorted(unlinked.items()):
        if len(accounts) > 1:
            findings.disputed.append(
                {
                    "reference": ", ".join(a.reference for a in accounts),
                    "label": ", ".join(label(a) for a in accounts),
                    "persons": [pid],
                    "reason": f"person {pid} correlates to {len(accounts)} accounts",
                }
            )
            continue
        account = accounts[0]
        entitled = pid in creates
        findings.unlinked.append(
            {
                **describe(account),
                "person": pid,
                "name": _name(persons, pid),
                "entitled": entitled,
            }
        )
        if entitled:
            out.unlinked.append((pid, account))
    by_ref = {norm(a.reference): a for a in live}
    managed = _managed(shadows, resources, target_plan)
    reports_permissions = any(a.permissions for a in listed)
    if not reports_permissions and any(s.permissions for s in shadows.values()):
        findings.notes.append("the target reports no memberships: they are not compared")
    linked = 0
    for pid, shadow in sorted(shadows.items()):
        if not shadow.reference:
            continue
        current = by_ref.get(norm(shadow.reference))
        if current is None:
            findings.missing.append(
                {"person": pid, "name": _name(persons, pid), "reference": shadow.reference}
            )
            continue
        linked += 1
        drift = _drift(
            pid, shadow, current, actions.get(pid, []), managed if reports_permissions else None
        )
        if drift is not None:
            findings.drift.append(
                {
                    "person": pid,
                    "name": _name(persons, pid),
                    "reference": shadow.reference,
                    "label": label(current),
                    **drift.as_json(),
                }
            )
            out.drifted.append(drift)
    findings.linked = linked
    return out


def _correlation_value(
    path: str, person: Person, shadow: AccountState | None, create: Action | None
) -> Any:
    if path.startswith("account."):
        attribute = path.removeprefix("account.")
        if shadow is not None:
            return shadow.data.get(attribute)
        if create is None:
            return None
        source = create.found.data if create.found is not None else create.account
        return source.get(attribute)
    return value_at(person, path.removeprefix("person."))


def _managed(
    shadows: Mapping[str, AccountState], resources: Iterable[str], target_plan: TargetPlan
) -> set[str]:
    """The permissions idsync manages in a target: granted to someone, an ensured
    resource, or planned; memberships of anything else are none of its business."""
    keys = {k for s in shadows.values() for k in s.permissions}
    keys |= set(resources)
    keys |= {a.key for a in target_plan.actions if a.key}
    return {norm(k) for k in keys}


def _drift(
    pid: str,
    shadow: AccountState,
    account: Account,
    planned: list[Action],
    managed: set[str] | None,
) -> Drift | None:
    """How ``account`` differs from what was applied (``shadow``), unless the plan changes it
    that way anyway; None when it does not differ."""
    kinds = {a.kind for a in planned}
    update = next((a for a in planned if a.kind is ActionKind.UPDATE), None)
    desired = dict(update.account) if update is not None else dict(shadow.data)
    attributes: dict[str, dict[str, Any]] = {}
    for key, applied in shadow.data.items():
        if key.startswith("@") or key not in account.data:
            continue  # engine-internal, or not something the target reports
        actual = account.data[key]
        if not _same(applied, actual) and not _same(desired.get(key, applied), actual):
            attributes[key] = {
                "applied": applied,
                "actual": actual,
                "desired": desired.get(key, applied),
            }
    want_enabled = shadow.enabled
    if ActionKind.ENABLE in kinds:
        want_enabled = True
    if ActionKind.DISABLE in kinds:
        want_enabled = False
    enabled = None
    if account.enabled is not None and account.enabled not in (shadow.enabled, want_enabled):
        enabled = {"applied": shadow.enabled, "actual": account.enabled}
    revoking = {norm(a.key) for a in planned if a.kind is ActionKind.REVOKE and a.key}
    granting = {norm(a.key) for a in planned if a.kind is ActionKind.GRANT and a.key}
    missing: list[str] = []
    extra: list[str] = []
    if managed is not None:
        # What the account lacks or holds beyond what was applied, unless that is what
        # the rules want now anyway (the next run revokes or grants it).
        present = {norm(k): k for k in account.permissions}
        granted = {norm(k): k for k in shadow.permissions}
        missing = sorted(granted[k] for k in set(granted) - set(present) - revoking)
        extra = sorted(present[k] for k in set(present) - set(granted) - granting if k in managed)
    if not (attributes or enabled is not None or missing or extra):
        return None
    return Drift(
        person=pid,
        shadow=shadow,
        attributes=attributes,
        enabled=enabled,
        want_enabled=want_enabled,
        missing=missing,
        extra=extra,
        deleting=ActionKind.DELETE in kinds,
    )


def _name(persons: Mapping[str, Person], pid: str) -> str | None:
    person = persons.get(pid)
    return person.display_name if person else None
