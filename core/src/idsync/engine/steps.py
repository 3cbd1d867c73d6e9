"""The steps of a run (import, plan, enforce) and the configured systems they use, each bound
to its plugin once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable

from loguru import logger

from idsync import collector
from idsync.breaker import Breaker
from idsync.config import Pipeline
from idsync.correlation import TargetReader, folder
from idsync.enforce import Enforcer
from idsync.engine.results import DateRefused, RunReport
from idsync.expressions import Expressions
from idsync.importer import SourceError, SourceImport, import_source, merge, stored_import
from idsync.model import ActionStatus, HookContext, Person
from idsync.plan import Known, Plan, make_plan
from idsync.plugins import PluginLoadError, Registry, System
from idsync.progress import Progress
from idsync.secrets import redact
from idsync.state import Lease, LeaseLost, Store, StoreFailed


class _Steps:
    """One pipeline's systems and the steps a plan and a run are made of."""

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
                    report.lease_lost = isinstance(exc, LeaseLost)
                    return
                report.stopped |= enforcer.stopped
                unfinished[name] = enforcer.unfinished
                if enforcer.breaker.trip is not None:
                    report.breakers.append(enforcer.breaker.trip)
