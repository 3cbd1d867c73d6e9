"""Reconciliation: a target's real accounts against the state store and the desired state.

The target's ``idsync_accounts`` hook lists every account with the permissions it holds. Each
account is put in one of midPoint's situations:

- *linked*: the state store links it to a person; it is checked for **drift** (attributes,
  enabled state or memberships that differ from what idsync last applied);
- **unmatched**: no person owns it and none correlates (an orphan), unless it is **excluded**
  (known and allowed until a date);
- **unlinked**: exactly one person correlates to it, but the state store has no link;
- **disputed**: several persons correlate to it, one person correlates to several accounts,
  the correlating person is already linked to another account, or several persons are linked
  to it.

A linked account the target no longer lists is reported as **missing**.

Nothing changes unless a fix is asked for: ``link`` records the links of unlinked accounts of
entitled persons (correlating again, never creating), ``restore`` brings drifted accounts back
to the desired state, ``disable_orphans`` disables unmatched accounts. Fixes are actions run
through the :class:`~idsync.enforce.Enforcer` in a run of their own (command ``reconcile``):
audited one by one, dry-run capable, and held by the target's thresholds like any run.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync.config import TRANSITIONS, TargetConfig
from idsync.enforce import Enforcer, value_at
from idsync.engine import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_INPUT,
    EXIT_OK,
    DateRefused,
    Engine,
    nest_counts,
)
from idsync.importer import merge
from idsync.model import (
    Account,
    ActionKind,
    Change,
    HookContext,
    Permission,
    Person,
)
from idsync.plan import Action, Hold, TargetPlan
from idsync.plugins import PluginLoadError
from idsync.secrets import redact, redact_data
from idsync.state import AccountState, now
from idsync.thresholds import approved, exceeded

__all__ = ["HELD_PREFIX", "ReconcileReport", "Reconciler", "TargetFindings", "print_reconcile"]

HELD_PREFIX = "reconcile:"
"""Held reconciliation fixes are stored with this prefix before the action kind."""

_ORDER = {kind: i for i, kind in enumerate(ActionKind)}
_LABEL_KEYS = ("userName", "name", "displayName", "email", "mail", "UPN")
_DELETED_FLAGS = ("isDeleted", "deleted")


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return bool(_norm(a) == _norm(b)) if isinstance(a, str) and isinstance(b, str) else a == b


def _deleted(account: Account) -> bool:
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
class ReconcileReport:
    """Reconciliation's findings per target and, when fixes ran, their outcome."""

    as_of: dt.date
    targets: dict[str, TargetFindings] = field(default_factory=dict)
    run_id: int | None = None
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: list[Hold] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = EXIT_OK

    def nested_counts(self) -> dict[str, dict[str, int]]:
        """``{status: {kind: n}}`` of the fixes."""
        return nest_counts(self.counts)

    def as_json(self) -> dict[str, Any]:
        """The report as ``idsync reconcile --json`` prints it."""
        return {
            "as_of": self.as_of.isoformat(),
            "targets": {name: f.as_json() for name, f in self.targets.items()},
            "run": self.run_id,
            "fixes": self.nested_counts(),
            "held": [h.model_dump(mode="json") for h in self.held],
            "notes": self.notes,
            "error": self.error,
            "exit_code": self.exit_code,
        }


@dataclass
class _Fixes:
    """The fix actions of one target, and why some were not planned."""

    actions: list[Action] = field(default_factory=list)
    base: int = 1
    """The population thresholds are measured against: the accounts in the target."""


class Reconciler:
    """Reconciles the targets of one pipeline (through an :class:`~idsync.engine.Engine`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.pipeline = engine.pipeline

    def targets(self, names: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
        """The enabled targets (of ``names``) that can list accounts, and those that cannot."""
        able, unable = [], []
        for name, cfg in self.pipeline.targets.items():
            if not cfg.enabled or (names is not None and name not in set(names)):
                continue
            try:  # a plugin that cannot be set up is noted by the engine, and lists nothing
                lists = self.engine.system(name).implements("idsync_accounts")
            except PluginLoadError:
                lists = False
            if lists:
                able.append(name)
            else:
                unable.append(name)
        return able, unable

    def run(
        self,
        as_of: dt.date | None = None,
        *,
        targets: Iterable[str] | None = None,
        link: bool = False,
        restore: bool = False,
        disable_orphans: bool = False,
        dry_run: bool = False,
        approve: Iterable[str] = (),
        approve_max: Mapping[str, int] | None = None,
        cancel: threading.Event | None = None,
        time_travel: bool = False,
    ) -> ReconcileReport:
        """Reconcile and, when asked, fix. ``approve`` releases held fix kinds (``disable``…);
        ``approve_max`` releases a kind only while it has at most that many actions (an
        approval is for what was reviewed, not for more). Raises
        :class:`~idsync.state.LockHeld` when fixes would run while another runner holds the
        pipeline's lock, and :class:`~idsync.engine.DateRefused` when fixes would run on
        another date than today without ``time_travel`` (or before the last run's date)."""
        as_of = as_of or self.engine.today()
        report = ReconcileReport(as_of=as_of)
        chosen, unable = self.targets(targets)
        for name in unable:
            report.notes.append(f"target {name} cannot list its accounts (no idsync_accounts)")
        if not chosen:
            report.error = "no target to reconcile: none of them can list its accounts"
            report.exit_code = EXIT_INPUT
            return report
        planned = self.engine.plan(as_of, targets=chosen)
        if planned.plan is None:
            report.error = planned.error or "the sources could not be read"
            report.exit_code = EXIT_FAILED
            return report
        plan = planned.plan
        persons, _ = merge(planned.imports)
        held_imports = [imp.source for imp in planned.imports if imp.held]
        fixes: dict[str, _Fixes] = {}
        for name in chosen:
            findings, target_fixes = self._reconcile(
                name,
                plan.targets.get(name, TargetPlan(target=name)),
                persons,
                as_of,
                link=link,
                restore=restore,
                disable_orphans=disable_orphans,
            )
            report.targets[name] = findings
            if findings.error:
                report.exit_code = EXIT_FAILED
            elif target_fixes.actions:
                fixes[name] = target_fixes
        if not fixes:
            return report
        if held_imports:
            report.notes.append(
                f"fixes not run: the import of {', '.join(held_imports)} is held by its "
                "thresholds (approve or reject it first)"
            )
            report.exit_code = EXIT_HELD
            return report
        self._fix(
            report,
            fixes,
            persons,
            as_of,
            dry_run=dry_run,
            approve=set(approve),
            approve_max=dict(approve_max or {}),
            options={
                "targets": sorted(fixes),
                "link": link,
                "restore": restore,
                "disable_orphans": disable_orphans,
            },
            cancel=cancel,
            time_travel=time_travel,
        )
        return report

    # --- finding ---------------------------------------------------------------------

    def _reconcile(
        self,
        name: str,
        target_plan: TargetPlan,
        persons: Mapping[str, Person],
        as_of: dt.date,
        *,
        link: bool,
        restore: bool,
        disable_orphans: bool,
    ) -> tuple[TargetFindings, _Fixes]:
        cfg = self.pipeline.targets[name]
        findings = TargetFindings(target=name)
        fixes = _Fixes()
        system = self.engine.system(name)
        ctx = HookContext(system=name, dry_run=True, as_of=as_of, settings=system.settings)
        try:
            listed = [
                a if isinstance(a, Account) else Account.model_validate(a)
                for a in system.hook.idsync_accounts(ctx=ctx) or ()
            ]
        except Exception as exc:
            findings.error = redact(f"listing the accounts failed: {type(exc).__name__}: {exc}")
            logger.bind(system=name).error("{}", findings.error)
            return findings, fixes
        live = [a for a in listed if not _deleted(a)]
        findings.accounts = len(live)
        shadows = self.store.accounts(name)
        fixes.base = max(len(live), len(shadows), 1)
        actions: dict[str, list[Action]] = defaultdict(list)
        for action in target_plan.actions:
            if action.person is not None:
                actions[action.person].append(action)
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
                owners[_norm(shadow.reference)].append(pid)
        by_value: dict[Any, list[str]] = defaultdict(list)
        if correlate is not None:
            for pid, person in persons.items():
                value = self._correlation_value(
                    correlate.person, person, shadows.get(pid), creates.get(pid)
                )
                if value not in (None, ""):
                    by_value[_norm(value)].append(pid)
        excluded = {_norm(e["reference"]): e for e in self.store.exclusions(name)}
        unlinked: dict[str, list[Account]] = defaultdict(list)
        for account in live:
            linked_to = owners.get(_norm(account.reference), [])
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
            candidates = by_value.get(_norm(value), []) if value not in (None, "") else []
            if not candidates:
                exclusion = excluded.get(_norm(account.reference))
                entry = describe(account)
                if exclusion is not None and exclusion["until"] >= as_of:
                    entry.update(until=exclusion["until"].isoformat(), reason=exclusion["reason"])
                    findings.excluded.append(entry)
                    continue
                entry["expired"] = exclusion["until"].isoformat() if exclusion else None
                findings.unmatched.append(entry)
                if disable_orphans and account.enabled is not False:
                    fixes.actions.append(
                        Action(
                            target=name,
                            kind=ActionKind.DISABLE,
                            reference=account.reference,
                            reason=f"reconcile: orphan account {label(account)} (no person)",
                        )
                    )
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
            if link and entitled:
                fixes.actions.extend(self._link(name, pid, account, actions.get(pid, [])))
        if link and any(not u["entitled"] for u in findings.unlinked):
            findings.notes.append(
                "unlinked accounts of persons the rules do not entitle are not linked "
                "(the next run would disable them)"
            )
        by_ref = {_norm(a.reference): a for a in live}
        managed = self._managed(name, shadows, target_plan)
        reports_permissions = any(a.permissions for a in listed)
        if not reports_permissions and any(s.permissions for s in shadows.values()):
            findings.notes.append("the target reports no memberships: they are not compared")
        linked = 0
        for pid, shadow in sorted(shadows.items()):
            if not shadow.reference:
                continue
            current = by_ref.get(_norm(shadow.reference))
            if current is None:
                findings.missing.append(
                    {"person": pid, "name": _name(persons, pid), "reference": shadow.reference}
                )
                continue
            linked += 1
            drift, restore_actions = self._drift(
                name,
                pid,
                shadow,
                current,
                actions.get(pid, []),
                managed if reports_permissions else None,
            )
            if drift:
                findings.drift.append(
                    {
                        "person": pid,
                        "name": _name(persons, pid),
                        "reference": shadow.reference,
                        "label": label(current),
                        **drift,
                    }
                )
                if restore:
                    fixes.actions.extend(restore_actions)
        findings.linked = linked
        return findings, fixes

    @staticmethod
    def _link(name: str, pid: str, account: Account, planned: list[Action]) -> list[Action]:
        """The fixes that link ``account`` to ``pid``: the plan's link of it and the update
        that follows (when the plan found the same account), or the link alone."""
        reason = "reconcile: link the existing account"
        link = next(
            (
                a
                for a in planned
                if a.kind is ActionKind.CORRELATE
                and a.found is not None
                and _norm(a.found.reference) == _norm(account.reference)
            ),
            None,
        )
        if link is None:
            return [
                Action(
                    target=name,
                    person=pid,
                    kind=ActionKind.CORRELATE,
                    reference=account.reference,
                    found=account,
                    transition="joiner",
                    reason=reason,
                )
            ]
        update = [a.replace(reason=reason) for a in planned if a.kind is ActionKind.UPDATE]
        return [link.replace(reason=reason), *update]

    @staticmethod
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
        self, name: str, shadows: Mapping[str, AccountState], target_plan: TargetPlan
    ) -> set[str]:
        """The permissions idsync manages in a target: granted to someone, an ensured
        resource, or planned; memberships of anything else are none of its business."""
        keys = {k for s in shadows.values() for k in s.permissions}
        keys |= set(self.store.resources(name))
        keys |= {a.key for a in target_plan.actions if a.key}
        return {_norm(k) for k in keys}

    def _drift(
        self,
        name: str,
        pid: str,
        shadow: AccountState,
        account: Account,
        planned: list[Action],
        managed: set[str] | None,
    ) -> tuple[dict[str, Any], list[Action]]:
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
        revoking = {_norm(a.key) for a in planned if a.kind is ActionKind.REVOKE and a.key}
        granting = {_norm(a.key) for a in planned if a.kind is ActionKind.GRANT and a.key}
        missing: list[str] = []
        extra: list[str] = []
        if managed is not None:
            # What the account lacks or holds beyond what was applied, unless that is what
            # the rules want now anyway (the next run revokes or grants it).
            held = {_norm(k): k for k in account.permissions}
            granted = {_norm(k): k for k in shadow.permissions}
            missing = sorted(granted[k] for k in set(granted) - set(held) - revoking)
            extra = sorted(held[k] for k in set(held) - set(granted) - granting if k in managed)
        drift: dict[str, Any] = {}
        if attributes:
            drift["attributes"] = attributes
        if enabled is not None:
            drift["enabled"] = enabled
        if missing:
            drift["missing"] = missing
        if extra:
            drift["extra"] = extra
        if not drift or ActionKind.DELETE in kinds:
            return drift, []
        fixes: list[Action] = []

        def add(kind: ActionKind, **values: Any) -> None:
            fixes.append(
                Action(
                    target=name,
                    person=pid,
                    kind=kind,
                    reference=shadow.reference,
                    reason="reconcile: restore the desired state",
                    **values,
                )
            )

        if attributes:
            add(
                ActionKind.UPDATE,
                account={**shadow.data, **{k: v["desired"] for k, v in attributes.items()}},
                changes={
                    k: Change(before=v["actual"], after=v["desired"]) for k, v in attributes.items()
                },
                unique_base=shadow.unique_base or {},
                manager=shadow.data.get("@manager"),
            )
        if enabled is not None:
            add(ActionKind.ENABLE if want_enabled else ActionKind.DISABLE)
        for key in extra:
            try:
                add(ActionKind.REVOKE, key=key, permission=Permission.parse(key))
            except ValueError:
                continue
        for key in missing:
            add(
                ActionKind.GRANT,
                key=key,
                permission=Permission.parse(key, reference=shadow.permissions.get(key)),
            )
        fixes.sort(key=lambda a: _ORDER[a.kind])
        return drift, fixes

    # --- fixing ----------------------------------------------------------------------

    def _fix(
        self,
        report: ReconcileReport,
        fixes: dict[str, _Fixes],
        persons: Mapping[str, Person],
        as_of: dt.date,
        *,
        dry_run: bool,
        approve: set[str],
        approve_max: dict[str, int],
        options: dict[str, Any],
        cancel: threading.Event | None,
        time_travel: bool,
    ) -> None:
        label = self.pipeline.label
        owner = None if dry_run else self.engine.take_lock()
        if owner is not None:
            try:
                self.engine.check_date(as_of, time_travel=time_travel)
            except DateRefused:
                self.store.release_lock(self.engine.lock, owner)
                raise
        started = now()
        run_id = self.store.start_run(label, "reconcile", as_of, dry_run)
        report.run_id = run_id
        stopped = False
        try:
            for name, target_fixes in fixes.items():
                if cancel is not None and cancel.is_set():
                    stopped = True
                    break
                ordered = sorted(
                    target_fixes.actions,
                    key=lambda a: (a.person or "", a.reference or "", _ORDER[a.kind]),
                )
                holds = self._thresholds(name, ordered, target_fixes.base, approve, approve_max)
                report.held.extend(holds)
                if not dry_run:
                    for hold in holds:
                        kind = f"{HELD_PREFIX}{hold.kind}"
                        self.store.supersede_held(label, name, kind)
                        self.store.hold(
                            run_id=run_id,
                            pipeline=label,
                            system=name,
                            kind=kind,
                            reason=hold.reason,
                            count=hold.count,
                            detail={
                                "command": "reconcile",
                                "options": options,
                                "actions": [
                                    _summary(a) for a in ordered if a.kind.value == hold.kind
                                ][:1000],
                            },
                        )
                enforcer = Enforcer(
                    self.engine.system(name),
                    self.pipeline.targets[name],
                    self.store,
                    run_id=run_id,
                    as_of=as_of,
                    dry_run=dry_run,
                    persons=persons,
                    holds=_kinds_held({h.kind for h in holds}),
                    cancel=cancel,
                )
                report.counts.update(enforcer.run(ordered))
                stopped |= enforcer.stopped
        except BaseException:
            self.store.finish_run(run_id, "crashed", EXIT_FAILED, report.nested_counts())
            raise
        finally:
            if owner is not None:
                self.store.release_lock(self.engine.lock, owner)
        if any(status == "failed" for (status, _), n in report.counts.items() if n):
            report.exit_code = EXIT_FAILED
        elif report.held:
            report.exit_code = max(report.exit_code, EXIT_HELD)
        self.engine.close_run(
            run_id,
            started=started,
            as_of=as_of,
            dry_run=dry_run,
            exit_code=report.exit_code,
            stopped=stopped,
            counts=report.counts,
            held=report.held,
        )

    def _thresholds(
        self,
        name: str,
        actions: list[Action],
        base: int,
        approve: set[str],
        approve_max: dict[str, int],
    ) -> list[Hold]:
        """The target's thresholds over the fixes, per action kind; links (creates that only
        link) are free."""
        cfg: TargetConfig = self.pipeline.targets[name]
        counts = Counter(a.kind.value for a in actions if a.kind is not ActionKind.CREATE)
        kinds = {k: t for k, t in cfg.active_thresholds().items() if k not in TRANSITIONS}
        holds = []
        for over in exceeded(kinds, counts, base):
            released = approved(approve, name, over.key)
            ceiling = approve_max.get(over.key)
            if released and (ceiling is None or over.count <= ceiling):
                continue
            reason = f"{over.count} {over.key} actions exceed the threshold {over.threshold} (of {base} accounts)"
            if released:
                reason += f"; approved for at most {ceiling}"
            holds.append(
                Hold(system=name, kind=over.key, count=over.count, limit=over.limit, reason=reason)
            )
        return holds


def _kinds_held(kinds: set[str]) -> Callable[[Action], str | None]:
    """Fixes are held per action kind: the threshold holding ``action``, or None."""
    return lambda action: action.kind.value if action.kind.value in kinds else None


def _name(persons: Mapping[str, Person], pid: str) -> str | None:
    person = persons.get(pid)
    return person.display_name if person else None


def _summary(action: Action) -> dict[str, Any]:
    out = action.summary()
    if action.person is None and action.reference:
        out["reference"] = action.reference
    return out


# --- output ----------------------------------------------------------------------------


def _table(title: str, columns: list[str], rows: list[list[str]], limit: int) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, box=None, padding=(0, 1))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows[:limit]:
        table.add_row(*(escape(redact(str(c))) for c in row))
    if len(rows) > limit:
        table.add_row(f"[dim]… and {len(rows) - limit} more (--limit N)[/]")
    return table


def _onoff(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "?")


def print_reconcile(console: Console, report: ReconcileReport, limit: int = 50) -> None:
    """Findings per target as tables, then the fixes' outcome."""
    for name, f in report.targets.items():
        found = {
            "unmatched": f.unmatched,
            "excluded": f.excluded,
            "unlinked": f.unlinked,
            "disputed": f.disputed,
            "drifted": f.drift,
            "missing": f.missing,
        }
        if f.error:
            # Nothing was compared: no counts, and never "all in order".
            console.print(
                f"[bold]{escape(name)}[/] (as of {report.as_of}): [red]not reconciled[/]",
                highlight=False,
            )
            console.print(f"  [red]error:[/] {escape(f.error)}", highlight=False)
        else:
            summary = ", ".join(f"{len(v)} {k}" for k, v in found.items() if v) or "all in order"
            console.print(
                f"[bold]{escape(name)}[/] (as of {report.as_of}): {f.accounts} accounts, "
                f"{f.linked} linked; {summary}",
                highlight=False,
            )
        if f.unmatched:
            rows = [
                [
                    u["reference"],
                    u["label"],
                    _onoff(u["enabled"]),
                    ", ".join(u["permissions"]),
                    f"exclusion expired {u['expired']}" if u.get("expired") else "",
                ]
                for u in f.unmatched
            ]
            cols = ["reference", "account", "enabled", "permissions", ""]
            console.print(_table("unmatched (orphans)", cols, rows, limit))
        if f.excluded:
            rows = [
                [u["reference"], u["label"], _onoff(u["enabled"]), u["until"], u["reason"] or ""]
                for u in f.excluded
            ]
            cols = ["reference", "account", "enabled", "until", "reason"]
            console.print(_table("excluded", cols, rows, limit))
        if f.unlinked:
            rows = [
                [
                    u["reference"],
                    u["label"],
                    f"{u['name'] or ''} ({u['person']})",
                    "yes" if u["entitled"] else "no",
                ]
                for u in f.unlinked
            ]
            console.print(
                _table("unlinked", ["reference", "account", "person", "entitled"], rows, limit)
            )
        if f.disputed:
            rows = [
                [d["reference"], d["label"], ", ".join(d["persons"]), d["reason"]]
                for d in f.disputed
            ]
            console.print(
                _table("disputed", ["reference", "account", "persons", "why"], rows, limit)
            )
        if f.drift:
            rows = []
            for d in f.drift:
                parts = [
                    f"{k}: {v['applied']!r} → {v['actual']!r}"
                    for k, v in d.get("attributes", {}).items()
                ]
                if "enabled" in d:
                    parts.append(
                        f"enabled: {_onoff(d['enabled']['applied'])} → {_onoff(d['enabled']['actual'])}"
                    )
                parts += [f"lost {k}" for k in d.get("missing", [])]
                parts += [f"gained {k}" for k in d.get("extra", [])]
                rows.append([f"{d['name'] or ''} ({d['person']})", d["label"], "; ".join(parts)])
            console.print(
                _table("drift (applied → actual)", ["person", "account", "what"], rows, limit)
            )
        if f.missing:
            rows = [[f"{m['name'] or ''} ({m['person']})", m["reference"]] for m in f.missing]
            console.print(
                _table(
                    "missing (linked, gone from the target)", ["person", "reference"], rows, limit
                )
            )
        for note in f.notes:
            console.print(f"  [dim]{escape(note)}[/]", highlight=False)
    if report.run_id is not None:
        outcome = report.nested_counts()
        parts = [
            f"{n} {kind} {status}"
            for status, kinds in sorted(outcome.items())
            for kind, n in sorted(kinds.items())
        ]
        console.print(
            f"fixes (run {report.run_id}): {', '.join(parts) or 'nothing to do'}", highlight=False
        )
    for hold in report.held:
        console.print(
            f"[yellow]held[/] {escape(hold.system)} {hold.kind}: {escape(hold.reason)}",
            highlight=False,
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if report.error:
        console.print(f"[bold red]error:[/] {escape(redact(report.error))}", highlight=False)
