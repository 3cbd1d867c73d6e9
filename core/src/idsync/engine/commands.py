"""The engine's commands: :meth:`Engine.plan` and :meth:`Engine.run` (under the pipeline's
lease), and how a run's end is recorded."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from collections.abc import Iterable

from loguru import logger

from idsync import collector
from idsync.engine.results import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_INPUT,
    EXIT_OK,
    DateRefused,
    RunReport,
    nest_counts,
    run_status,
)
from idsync.engine.steps import _Steps
from idsync.importer import SourceError
from idsync.model import ActionStatus, Blocked, RunSummary
from idsync.plan import Hold
from idsync.progress import Progress
from idsync.saved import PlanChanged, SavedPlan
from idsync.state import LEASE_TTL, Lease, now
from idsync.thresholds import approved as approved_by
from idsync.thresholds import held_detail, import_hold


class Engine(_Steps):
    """Runs one pipeline against its state store."""

    # --- commands --------------------------------------------------------------------

    def plan(
        self,
        as_of: dt.date | None = None,
        targets: Iterable[str] | None = None,
        progress: Progress | None = None,
    ) -> RunReport:
        """Read the sources and return what a run would do; writes nothing anywhere."""
        as_of = as_of or self.today()
        progress = progress or Progress()
        with collector.paused():
            try:
                imports = self._import(as_of, True, progress)
            except SourceError as exc:
                return RunReport(run_id=None, plan=None, error=str(exc), exit_code=EXIT_FAILED)
            plan, _ = self._plan(imports, as_of, targets)
        plan.held[:0] = [import_hold(imp) for imp in imports if imp.held]
        report = RunReport(
            run_id=None, plan=plan, imports=imports, held=plan.held, blocked=plan.blocked
        )
        report.breakers = [b.trip for b in self._breakers.values() if b.trip is not None]
        if report.breakers or self.unavailable:
            # a target refused or could not be reached while being read, or its plugin
            # could not be set up
            report.exit_code = EXIT_FAILED
        else:
            report.exit_code = EXIT_HELD if plan.held else EXIT_OK
        if self.unavailable:
            report.error = "; ".join(self.unavailable.values())
        return report

    def run(
        self,
        as_of: dt.date | None = None,
        *,
        dry_run: bool = False,
        approve: Iterable[str] = (),
        targets: Iterable[str] | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        time_travel: bool = False,
        expect: SavedPlan | None = None,
    ) -> RunReport:
        """Import, plan, check thresholds and enforce; every outcome goes to the state store.

        ``expect`` is a saved plan the run must match: when its sources' imports or its
        actions differ from the saved ones, the run ends before anything is written
        (``report.error``, exit code 2; see :mod:`idsync.saved`).

        ``approve`` releases held work for this run: ``import``, transitions and/or action
        kinds, each optionally scoped to one system as ``<system>:<kind>`` (``hr:import``,
        ``helloid:leaver``, ``helloid:delete``). ``cancel``, once set, stops enforcing
        gracefully: the actions in flight finish and are recorded, no new person is started,
        and the run ends ``stopped``. An enforcing run on another date than today needs
        ``time_travel``, and is never dated before the last enforcing run (raises
        :class:`DateRefused`). Raises :class:`~idsync.state.LockHeld` when another runner is
        enforcing this pipeline.
        """
        as_of = as_of or self.today()
        progress = progress or Progress()
        approved = set(approve)
        label = self.pipeline.label
        owner = None if dry_run else self.take_lock()
        if owner is not None:
            try:
                self.check_date(as_of, time_travel=time_travel)
            except DateRefused:
                self.release_lock()
                raise
        started = now()
        run_id = self.store.start_run(label, "run", as_of, dry_run)
        report = RunReport(run_id=run_id, plan=None)
        log = logger.bind(run=run_id)
        try:
            with collector.paused():  # until enforcing, which runs collector.settled()
                self._run(report, as_of, dry_run, approved, targets, progress, cancel, expect)
        except SourceError as exc:
            report.error = str(exc)
            report.exit_code = EXIT_FAILED
            log.error("{}", exc)
        except PlanChanged as exc:
            report.error = str(exc)
            report.exit_code = EXIT_INPUT
            log.error("{}", exc)
        except BaseException:
            self.store.finish_run(run_id, "crashed", EXIT_FAILED, report.nested_counts())
            raise
        finally:
            if owner is not None:
                try:
                    self.release_lock()
                except Exception as exc:  # the store failed: the lock's lease runs out
                    log.error("the pipeline's lock could not be released: {}", exc)
        try:
            if not dry_run and report.imports:  # what `idsync person` shows of a blocked person
                self.store.replace_blocked(label, run_id, report.blocked)
            self.close_run(
                run_id,
                started=started,
                as_of=as_of,
                dry_run=dry_run,
                exit_code=report.exit_code,
                stopped=report.stopped,
                counts=report.counts,
                held=report.held,
                blocked=report.blocked,
            )
        except Exception as exc:
            if report.error is None:
                raise
            # The store already failed: the run's end could not be recorded either. The next
            # runner that takes the lock closes it as crashed.
            log.error("the end of run {} could not be recorded: {}", run_id, exc)
        return report

    @property
    def lock(self) -> str:
        """The name of the lock an enforcing runner of this pipeline holds."""
        return f"pipeline:{self.pipeline.label}"

    def take_lock(self) -> str:
        """Take the pipeline's lease for enforcing (raises :class:`LockHeld`); returns the
        owner. The lease is renewed until :meth:`release_lock` and checked before every
        target write (see :mod:`idsync.state.lease`).

        Holding it, no other enforcing run of the pipeline can be alive, so a run still
        marked running was killed: it is closed as crashed.
        """
        label = self.pipeline.label
        self.lease = Lease(self.store, self.lock, lease_ttl())
        closed = self.store.close_abandoned_runs(label)
        if closed:
            logger.warning(
                "{} earlier run(s) of {} ended without finishing (killed)", closed, label
            )
        return self.lease.owner

    def release_lock(self) -> None:
        """Stop renewing the pipeline's lease and give it back (when still held)."""
        lease, self.lease = self.lease, None
        if lease is not None:
            lease.release()

    def close_run(
        self,
        run_id: int,
        *,
        started: dt.datetime,
        as_of: dt.date,
        dry_run: bool,
        exit_code: int,
        stopped: bool,
        counts: Counter[tuple[str, str]],
        held: Iterable[Hold],
        blocked: Iterable[Blocked] = (),
    ) -> None:
        """Record how a run (or a reconciliation's fixes) ended, and tell the observers."""
        nested = nest_counts(counts)
        self.store.finish_run(run_id, run_status(exit_code, stopped), exit_code, nested)
        summary = RunSummary(
            run_id=run_id,
            pipeline=self.pipeline.label,
            dry_run=dry_run,
            as_of=as_of,
            started=started,
            finished=now(),
            counts=nested,
            blocked=list(blocked),
            held=[f"{h.system} {h.kind}: {h.reason}" for h in held],
            failed=sum(n for (done, _), n in counts.items() if done == ActionStatus.FAILED.value),
            exit_code=exit_code,
        )
        self.observers.run_finished(summary)

    def _run(
        self,
        report: RunReport,
        as_of: dt.date,
        dry_run: bool,
        approved: set[str],
        targets: Iterable[str] | None,
        progress: Progress,
        cancel: threading.Event | None = None,
        expect: SavedPlan | None = None,
    ) -> None:
        run_id = report.run_id
        if run_id is None:
            raise ValueError("a run needs its id")
        label = self.pipeline.label
        imports = self._import(as_of, dry_run, progress)
        report.imports = imports
        if expect is not None:
            expect.check_sources(imports)
        report.blocked = [b for imp in imports for b in imp.blocked]
        held_imports = [
            imp for imp in imports if imp.held and not approved_by(approved, imp.source, "import")
        ]
        if held_imports:
            for imp in held_imports:
                hold = import_hold(imp)
                report.held.append(hold)
                if not dry_run:
                    self.store.hold_snapshot(imp.source, run_id, imp.counts)
                    self.store.supersede_held(label, imp.source, "import")
                    self.store.hold(
                        run_id=run_id,
                        pipeline=label,
                        system=imp.source,
                        kind="import",
                        reason=hold.reason,
                        count=hold.count,
                        detail=imp.counts,
                    )
                logger.bind(run=run_id, system=imp.source).warning("import held: {}", imp.held)
            report.exit_code = EXIT_HELD
            return
        if not dry_run:
            for imp in imports:
                departments = {k: v.model_dump(mode="json") for k, v in imp.departments.items()}
                self.store.accept_snapshot(
                    imp.source,
                    run_id,
                    imp.changed,
                    imp.removed,
                    departments,
                    imp.counts,
                    missing=imp.missing,
                    returned=imp.returned,
                )
        plan, persons = self._plan(imports, as_of, targets, approved)
        if expect is not None:
            expect.check_actions(plan)
        self._record_unavailable(report, run_id, dry_run)
        report.plan = plan
        report.blocked = plan.blocked
        report.held = list(plan.held)
        if not dry_run:
            self.store.save_plan(run_id, plan.as_json())
            for name, tp in plan.targets.items():
                self.store.remember_checked(name, tp.checked, as_of)
            # Decided by this plan: every target that can look (a create without correlation
            # stays in doubt, its person blocked).
            resolved = self.store.resolve_in_doubt(
                plan.targets,
                run_id,
                keep_creates=[
                    t for t in plan.targets if self.pipeline.targets[t].account.correlate is None
                ],
            )
            if resolved:
                logger.bind(run=run_id).warning(
                    "{} action(s) of an interrupted run were in doubt; this run planned them "
                    "again from what the targets answer",
                    resolved,
                )
            for hold in plan.held:
                self.store.supersede_held(label, hold.system, hold.kind)
                self.store.hold(
                    run_id=run_id,
                    pipeline=label,
                    system=hold.system,
                    kind=hold.kind,
                    reason=hold.reason,
                    count=hold.count,
                    detail={
                        "persons": hold.persons,
                        "actions": held_detail(plan.targets[hold.system], hold),
                    },
                )
        self._enforce(report, plan, persons, as_of, dry_run, progress, cancel)
        if report.error or report.count(ActionStatus.FAILED.value) or report.breakers:
            report.exit_code = EXIT_FAILED
        elif report.held:
            report.exit_code = EXIT_HELD


def lease_ttl() -> dt.timedelta:
    """How long a pipeline's lease lasts unrenewed: 60 s, or ``IDSYNC_LEASE_SECONDS``."""
    seconds = os.environ.get("IDSYNC_LEASE_SECONDS", "").strip()
    if not seconds:
        return LEASE_TTL
    try:
        value = float(seconds)
    except ValueError:
        raise ValueError(f"IDSYNC_LEASE_SECONDS={seconds!r} is not a number of seconds") from None
    if value < 3:
        raise ValueError(f"IDSYNC_LEASE_SECONDS={seconds!r} must be at least 3 seconds")
    return dt.timedelta(seconds=value)
