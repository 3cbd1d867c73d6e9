"""The reconciler: lists each target's accounts, analyses them against the plan and the state
store, and carries out the fixes asked for."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from idsync.engine import EXIT_FAILED, EXIT_HELD, EXIT_INPUT, EXIT_OK, Engine, nest_counts
from idsync.importer import merge
from idsync.model import Account, HookContext, Person
from idsync.plan import Hold, TargetPlan
from idsync.plugins import PluginLoadError
from idsync.reconcile.analysis import Analysis, TargetFindings, analyse
from idsync.reconcile.fixes import Fixes, carry_out, plan_fixes
from idsync.secrets import redact

__all__ = ["ReconcileReport", "Reconciler"]


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
        fixes: dict[str, Fixes] = {}
        for name in chosen:
            analysis = self.analyse(
                name, plan.targets.get(name, TargetPlan(target=name)), persons, as_of
            )
            report.targets[name] = analysis.findings
            if analysis.findings.error:
                report.exit_code = EXIT_FAILED
                continue
            target_fixes = plan_fixes(
                name, analysis, link=link, restore=restore, disable_orphans=disable_orphans
            )
            if target_fixes.actions:
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
        carry_out(
            self.engine,
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

    def analyse(
        self, name: str, target_plan: TargetPlan, persons: Mapping[str, Person], as_of: dt.date
    ) -> Analysis:
        """List target ``name``'s accounts (read-only) and put each in its situation."""
        system = self.engine.system(name)
        ctx = HookContext(system=name, dry_run=True, as_of=as_of, settings=system.settings)
        try:
            listed = [
                a if isinstance(a, Account) else Account.model_validate(a)
                for a in system.hook.idsync_accounts(ctx=ctx) or ()
            ]
        except Exception as exc:
            findings = TargetFindings(target=name)
            findings.error = redact(f"listing the accounts failed: {type(exc).__name__}: {exc}")
            logger.bind(system=name).error("{}", findings.error)
            return Analysis(findings=findings)
        return analyse(
            name,
            self.pipeline.targets[name],
            listed,
            self.store.accounts(name),
            self.store.exclusions(name),
            self.store.resources(name),
            target_plan,
            persons,
            as_of,
        )
