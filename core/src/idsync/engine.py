"""The engine: one run of a pipeline, import → evaluate → plan → thresholds → enforce → audit.

:meth:`Engine.plan` reads the sources and the state store and returns the plan, writing nothing
anywhere. :meth:`Engine.run` does the whole flow under the pipeline's lock: it stores the
accepted snapshots, the plan, held work and every action's outcome as it happens.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from loguru import logger

from idsync import collector
from idsync.breaker import Breaker, Trip
from idsync.config import Pipeline
from idsync.correlation import TargetReader, folder
from idsync.enforce import Enforcer
from idsync.expressions import Expressions
from idsync.importer import SourceError, SourceImport, import_source, merge, stored_import
from idsync.model import ActionStatus, Blocked, HookContext, Person, RunSummary
from idsync.plan import Hold, Known, Plan, make_plan
from idsync.plugins import PluginLoadError, Registry, System
from idsync.progress import Progress
from idsync.saved import PlanChanged, SavedPlan
from idsync.secrets import redact
from idsync.state import LEASE_TTL, Lease, LockHeld, Store, StoreFailed, now
from idsync.thresholds import approve_kinds, held_detail, import_hold
from idsync.thresholds import approved as approved_by

__all__ = [
    "EXIT_FAILED",
    "EXIT_HELD",
    "EXIT_INPUT",
    "EXIT_OK",
    "DateRefused",
    "Engine",
    "Progress",
    "RunReport",
    "nest_counts",
    "run_status",
]

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_HELD = 0, 1, 2, 3


class DateRefused(ValueError):
    """An enforcing run dated where time does not allow it (exit code 2).

    A run enforces on the pipeline's today; another date only with ``time_travel``, and never
    before the date of the last enforcing run (that would undo what it did).
    """


@dataclass
class RunReport:
    """What a run (or a plan) did and found."""

    run_id: int | None
    plan: Plan | None
    imports: list[SourceImport] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: list[Hold] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    error: str | None = None
    exit_code: int = EXIT_OK
    stopped: bool = False
    """The run was asked to stop while enforcing; what it did not start, the next run does."""
    breakers: list[Trip] = field(default_factory=list)
    """Targets stopped early because they refused the credentials or could not be reached."""

    def count(self, status: str, kind: str | None = None) -> int:
        """How many actions ended in ``status`` (of ``kind``)."""
        return sum(
            n for (s, k), n in self.counts.items() if s == status and (kind is None or k == kind)
        )

    def nested_counts(self) -> dict[str, dict[str, int]]:
        """``{status: {kind: n}}``."""
        return nest_counts(self.counts)


def run_status(exit_code: int, stopped: bool = False) -> str:
    """How a finished run is recorded: ``done``, ``failed``, ``held`` or ``stopped``."""
    if stopped:
        return "stopped"
    return {EXIT_OK: "done", EXIT_FAILED: "failed", EXIT_HELD: "held"}.get(exit_code, "failed")


def nest_counts(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{(status, kind): n}`` as ``{status: {kind: n}}``, the way runs record them."""
    out: dict[str, dict[str, int]] = {}
    for (status, kind), n in counts.items():
        out.setdefault(status, {})[kind] = n
    return out


class Engine:
    """Runs one pipeline against its state store."""

    def __init__(self, pipeline: Pipeline, registry: Registry, store: Store | None = None) -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.store = store or Store(pipeline.state)
        self.expressions = Expressions(registry.expression_functions(pipeline.plugins()))
        self.observers = registry.observers(pipeline, self.store)
        """This engine's own observer plugins (the notifier among them)."""
        self._systems: dict[str, System] = {}
        self._breakers: dict[str, Breaker] = {}
        """Each target's breaker for the plan and run under way (one per target, new each
        plan): a target stopped while the plan read it is not called while enforcing."""
        self.unavailable: dict[str, str] = {}
        """Systems whose plugin could not be set up, with why: they fail, the others run."""
        self.lease: Lease | None = None
        """The pipeline's lease while this engine enforces (checked before each write)."""

    def system(self, name: str) -> System:
        """The configured source or target ``name``, bound to its plugin (built once).

        Raises :class:`~idsync.plugins.PluginLoadError` when its plugin cannot be set up
        (noted in :attr:`unavailable`)."""
        if name in self.unavailable:
            raise PluginLoadError(self.unavailable[name])
        if name not in self._systems:
            cfg = self.pipeline.sources.get(name) or self.pipeline.targets[name]
            try:
                self._systems[name] = self.registry.system(
                    name, cfg.plugin, self.pipeline.settings_for(name), self.observers
                )
            except PluginLoadError as exc:
                self.unavailable[name] = redact(str(exc))
                logger.bind(system=name).error("{}", self.unavailable[name])
                raise
        return self._systems[name]

    def _usable(self, name: str) -> bool:
        try:
            self.system(name)
        except PluginLoadError:
            return False
        return True

    def close(self) -> None:
        """Deliver what the observers have left, and release the store's connections."""
        self.observers.close()
        self.store.close()

    # --- steps -----------------------------------------------------------------------

    def _import(self, as_of: dt.date, dry_run: bool, progress: Progress) -> list[SourceImport]:
        imports = []
        for name, cfg in self.pipeline.sources.items():
            if not cfg.enabled:
                # A source switched off keeps its last snapshot: its people are not "gone".
                imports.append(stored_import(self.store, name))
                continue
            try:
                system = self.system(name)
            except PluginLoadError as exc:
                raise SourceError(f"source {name}: {exc}") from None
            ctx = HookContext(system=name, dry_run=dry_run, as_of=as_of, settings=system.settings)
            imp = import_source(system, cfg, self.store, ctx, progress.reading(name))
            logger.bind(system=name).info(
                "imported {persons} persons ({added} new, {changed} changed, {removed} removed), {blocked} blocked",
                **imp.counts,
            )
            imports.append(imp)
        return imports

    def _plan(
        self,
        imports: list[SourceImport],
        as_of: dt.date,
        targets: Iterable[str] | None,
        approve: Iterable[str] = (),
    ) -> tuple[Plan, dict[str, Person]]:
        """The plan for the merged persons, and those persons (the enforcer reads them).

        Reads the targets where the plan needs to know (persons without a linked account),
        read-only, under dry-run's rules.
        """
        persons, departments = merge(imports)
        self._breakers = {t: Breaker(t) for t in self.pipeline.targets}
        wanted = None if targets is None else set(targets)
        chosen = {t for t in self.pipeline.targets if wanted is None or t in wanted}
        # A target whose plugin cannot be set up is left out of the plan (and fails).
        chosen = {t for t in chosen if not self.pipeline.targets[t].enabled or self._usable(t)}
        known = {t: self.known(t, as_of, t in chosen) for t in self.pipeline.targets}
        plan = make_plan(
            self.pipeline,
            persons,
            departments,
            known,
            self.expressions,
            as_of,
            [t for t in self.pipeline.targets if t in chosen],
            approve=approve,
        )
        plan.blocked[:0] = [b for imp in imports for b in imp.blocked]
        plan.lookups = {
            t: k.lookups.requests for t, k in known.items() if isinstance(k.lookups, TargetReader)
        }
        return plan, persons

    def known(self, target: str, as_of: dt.date, planned: bool = True) -> Known:
        """What a plan knows of ``target`` before it starts: the shadows (always, other
        targets read them), and for a target to plan its resources, hooks, blocked actions,
        leavers looked up and a reader that asks the target itself."""
        facts = Known(accounts=self.store.accounts(target))
        cfg = self.pipeline.targets[target]
        if not (planned and cfg.enabled):
            return facts
        system = self.system(target)
        about = system.info.about
        facts.resources = self.store.resources(target)
        facts.hooks = system.hooks()
        facts.blocked = self.store.blocked_actions(target)
        facts.digest = system.digest
        facts.checked = self.store.checked(target)
        facts.case_insensitive = bool(about and about.case_insensitive)
        if cfg.account.correlate is None:
            facts.doubtful = {
                d.person: d.run_id
                for d in self.store.in_doubt([target])
                if d.kind == "create" and d.person
            }
        ctx = HookContext(system=target, dry_run=True, as_of=as_of, settings=system.settings)
        facts.lookups = TargetReader(
            system,
            cfg.account.correlate,
            ctx,
            unique=cfg.account.unique,
            fold=folder(facts.case_insensitive),
            indexed=about.indexed if about else None,
            breaker=self._breakers.setdefault(target, Breaker(target)),
        )
        return facts

    def today(self) -> dt.date:
        """Today, in the pipeline's time zone."""
        return self.pipeline.today()

    def check_date(self, as_of: dt.date, *, time_travel: bool) -> None:
        """Refuse (:class:`DateRefused`) an enforcing run on ``as_of``: another day than today
        without ``time_travel``, or a day before the last enforcing run's."""
        today = self.today()
        if as_of != today and not time_travel:
            raise DateRefused(
                f"--as-of {as_of.isoformat()}: a run enforces on today's date "
                f"({today.isoformat()} in {self.pipeline.timezone or 'the local time zone'}); "
                "to enforce on another date, add --time-travel (or use plan or --dry-run "
                "to preview a date)"
            )
        last = self.store.last_enforced(self.pipeline.label)
        if last is not None and as_of < last:
            raise DateRefused(
                f"--as-of {as_of.isoformat()} is before the last enforcing run of "
                f"{self.pipeline.label} (dated {last.isoformat()}): time moves forward only, "
                "a run dated earlier would undo what that run did"
            )

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

    def _record_unavailable(self, report: RunReport, run_id: int, dry_run: bool) -> None:
        """Each target whose plugin could not be set up fails: one audit record, counted."""
        for name, error in self.unavailable.items():
            self.store.record(
                run_id=run_id,
                target=name,
                person=None,
                kind="plugin",
                status=ActionStatus.FAILED.value,
                messages=[error],
                dry_run=dry_run,
            )
            report.counts[(ActionStatus.FAILED.value, "plugin")] += 1
        if self.unavailable:
            report.error = "; ".join(self.unavailable.values())

    def _enforce(
        self,
        report: RunReport,
        plan: Plan,
        persons: dict[str, Person],
        as_of: dt.date,
        dry_run: bool,
        progress: Progress,
        cancel: threading.Event | None,
    ) -> None:
        """Carry out the plan target by target, in the plan's (dependency) order: a person's
        actions in a target that reads another's accounts wait when that person's actions in
        the other did not all finish. A failed state store stops the run (``report.error``).

        The collector works again (failed calls leave reference cycles behind), but leaves
        the persons and the plan, alive until the run ends, out of its walks.
        """
        run_id = report.run_id
        if run_id is None:
            raise ValueError("enforcing needs a run")
        deps = self.pipeline.dependencies()
        unfinished: dict[str, set[str]] = {}
        with collector.settled(), collector.running():
            remaining = list(plan.targets.items())
            for index, (name, target_plan) in enumerate(remaining):
                if cancel is not None and cancel.is_set():
                    report.stopped = any(tp.actions for _, tp in remaining[index:])
                    break
                waits: dict[str, str] = {}
                for other in deps.get(name, {}):
                    for pid in unfinished.get(other, ()):
                        waits.setdefault(
                            pid, f"waits for {other}: this person's actions there did not finish"
                        )
                system = self.system(name)
                enforcer = Enforcer(
                    system,
                    self.pipeline.targets[name],
                    self.store,
                    run_id=run_id,
                    as_of=as_of,
                    dry_run=dry_run,
                    persons=persons,
                    holds=target_plan.hold_of,
                    blocked=self.store.blocked_actions(name).keys(),
                    waits=waits,
                    progress=progress.enforcing(name, len(target_plan.actions)),
                    cancel=cancel,
                    breaker=self._breakers.get(name),
                    lease=self.lease,
                )
                try:
                    report.counts.update(enforcer.run(target_plan.actions))
                except StoreFailed as exc:
                    report.counts.update(enforcer.counts)
                    report.error = str(exc)
                    report.stopped = True
                    return
                report.stopped |= enforcer.stopped
                unfinished[name] = enforcer.unfinished
                if enforcer.breaker.trip is not None:
                    report.breakers.append(enforcer.breaker.trip)


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


__all__ += ["LockHeld", "approve_kinds"]
