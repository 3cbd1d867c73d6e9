"""Reconciliation's fixes: the actions that link, restore or disable, and the run that
carries them out.

:func:`plan_fixes` turns what :func:`~idsync.reconcile.analysis.analyse` found into actions;
:func:`carry_out` runs them through the :class:`~idsync.enforce.Enforcer` in a run of their
own, held per action kind by the target's thresholds like any run.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idsync.enforce import Enforcer
from idsync.engine import EXIT_FAILED, EXIT_HELD, DateRefused, Engine
from idsync.model import Account, ActionKind, Change, Permission, Person
from idsync.plan import Action
from idsync.reconcile.analysis import Analysis, Drift, norm
from idsync.state import now
from idsync.thresholds import hold_kinds

if TYPE_CHECKING:
    from idsync.reconcile.reconciler import ReconcileReport

__all__ = ["HELD_PREFIX", "Fixes", "carry_out", "plan_fixes"]

HELD_PREFIX = "reconcile:"
"""Held reconciliation fixes are stored with this prefix before the action kind."""

_ORDER = {kind: i for i, kind in enumerate(ActionKind)}


@dataclass
class Fixes:
    """The fix actions of one target."""

    actions: list[Action] = field(default_factory=list)
    base: int = 1
    """The population thresholds are measured against: the accounts in the target."""


def plan_fixes(
    name: str, analysis: Analysis, *, link: bool, restore: bool, disable_orphans: bool
) -> Fixes:
    """The actions of the fixes asked for, from what the analysis of target ``name`` found."""
    fixes = Fixes(base=analysis.base)
    if disable_orphans:
        fixes.actions += [
            Action(
                target=name,
                kind=ActionKind.DISABLE,
                reference=account.reference,
                reason=f"reconcile: orphan account {label} (no person)",
            )
            for account, label in analysis.orphans
        ]
    if link:
        for pid, account in analysis.unlinked:
            fixes.actions += _link(name, pid, account, analysis.planned.get(pid, []))
        if any(not u["entitled"] for u in analysis.findings.unlinked):
            analysis.findings.notes.append(
                "unlinked accounts of persons the rules do not entitle are not linked "
                "(the next run would disable them)"
            )
    if restore:
        for drift in analysis.drifted:
            fixes.actions += _restore(name, drift)
    return fixes


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
            and norm(a.found.reference) == norm(account.reference)
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


def _restore(name: str, drift: Drift) -> list[Action]:
    """The actions that bring a drifted account back to the desired state (none when the
    plan deletes it anyway)."""
    if drift.deleting:
        return []
    shadow = drift.shadow
    fixes: list[Action] = []

    def add(kind: ActionKind, **values: Any) -> None:
        fixes.append(
            Action(
                target=name,
                person=drift.person,
                kind=kind,
                reference=shadow.reference,
                reason="reconcile: restore the desired state",
                **values,
            )
        )

    if drift.attributes:
        add(
            ActionKind.UPDATE,
            account={**shadow.data, **{k: v["desired"] for k, v in drift.attributes.items()}},
            changes={
                k: Change(before=v["actual"], after=v["desired"])
                for k, v in drift.attributes.items()
            },
            unique_base=shadow.unique_base or {},
            manager=shadow.data.get("@manager"),
        )
    if drift.enabled is not None:
        add(ActionKind.ENABLE if drift.want_enabled else ActionKind.DISABLE)
    for key in drift.extra:
        try:
            add(ActionKind.REVOKE, key=key, permission=Permission.parse(key))
        except ValueError:
            continue
    for key in drift.missing:
        add(
            ActionKind.GRANT,
            key=key,
            permission=Permission.parse(key, reference=shadow.permissions.get(key)),
        )
    fixes.sort(key=lambda a: _ORDER[a.kind])
    return fixes


def carry_out(
    engine: Engine,
    report: ReconcileReport,
    fixes: dict[str, Fixes],
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
    """Run the fixes in a run of their own (under the pipeline's lock unless ``dry_run``),
    holding what the targets' thresholds hold; the outcome goes into ``report``."""
    store, pipeline = engine.store, engine.pipeline
    label = pipeline.label
    owner = None if dry_run else engine.take_lock()
    if owner is not None:
        try:
            engine.check_date(as_of, time_travel=time_travel)
        except DateRefused:
            engine.release_lock()
            raise
    started = now()
    run_id = store.start_run(label, "reconcile", as_of, dry_run)
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
            holds = hold_kinds(
                name, pipeline.targets[name], ordered, target_fixes.base, approve, approve_max
            )
            report.held.extend(holds)
            if not dry_run:
                for hold in holds:
                    kind = f"{HELD_PREFIX}{hold.kind}"
                    store.supersede_held(label, name, kind)
                    store.hold(
                        run_id=run_id,
                        pipeline=label,
                        system=name,
                        kind=kind,
                        reason=hold.reason,
                        count=hold.count,
                        detail={
                            "command": "reconcile",
                            "options": options,
                            "actions": [_summary(a) for a in ordered if a.kind.value == hold.kind][
                                :1000
                            ],
                        },
                    )
            enforcer = Enforcer(
                engine.system(name),
                pipeline.targets[name],
                store,
                run_id=run_id,
                as_of=as_of,
                dry_run=dry_run,
                persons=persons,
                holds=_kinds_held({h.kind for h in holds}),
                cancel=cancel,
                lease=engine.lease,
            )
            report.counts.update(enforcer.run(ordered))
            stopped |= enforcer.stopped
    except BaseException:
        store.finish_run(run_id, "crashed", EXIT_FAILED, report.nested_counts())
        raise
    finally:
        if owner is not None:
            engine.release_lock()
    if any(status == "failed" for (status, _), n in report.counts.items() if n):
        report.exit_code = EXIT_FAILED
    elif report.held:
        report.exit_code = max(report.exit_code, EXIT_HELD)
    engine.close_run(
        run_id,
        started=started,
        as_of=as_of,
        dry_run=dry_run,
        exit_code=report.exit_code,
        stopped=stopped,
        counts=report.counts,
        held=report.held,
    )


def _kinds_held(kinds: set[str]) -> Callable[[Action], str | None]:
    """Fixes are held per action kind: the threshold holding ``action``, or None."""
    return lambda action: action.kind.value if action.kind.value in kinds else None


def _summary(action: Action) -> dict[str, Any]:
    out = action.summary()
    if action.person is None and action.reference:
        out["reference"] = action.reference
    return out
