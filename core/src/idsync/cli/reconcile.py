"""``idsync reconcile``: each target's accounts against the state store and the desired state."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from idsync.cli.opening import _created, _engine, _lock_held
from idsync.cli.options import (
    AsOfOpt,
    JsonOpt,
    PipelineArg,
    TargetOpt,
    TimeTravelOpt,
    _as_of,
    _check_approvals,
    _check_targets,
)
from idsync.cli.output import _fail, _print_json, console
from idsync.cli.run import EXIT_PENDING
from idsync.config import Pipeline
from idsync.engine import EXIT_OK, DateRefused, approve_kinds
from idsync.schedule import graceful_stop
from idsync.state import LockHeld


def reconcile_cmd(
    pipeline_file: PipelineArg,
    target: TargetOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    link: Annotated[
        bool, typer.Option("--link", help="Link unlinked accounts of entitled persons.")
    ] = False,
    restore: Annotated[
        bool, typer.Option("--restore", help="Bring drifted accounts back to the desired state.")
    ] = False,
    disable_orphans: Annotated[
        bool, typer.Option("--disable-orphans", help="Disable unmatched accounts (not excluded).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run the fixes read-only (audited as dry-run).")
    ] = False,
    approve: Annotated[
        list[str] | None,
        typer.Option("--approve", help="Release a fix kind held by a threshold (disable, …)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Allow this orphan account (reference) until --until."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="With --exclude: the last day (YYYY-MM-DD).")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="With --exclude: why it is allowed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show per finding.")] = 50,
    time_travel: TimeTravelOpt = False,
) -> None:
    """Compare each target's accounts with the state store and the desired state.

    Reports unmatched (orphan), unlinked, disputed, drifted and missing accounts; fixes only
    what is asked for, through thresholds, dry-run and the audit trail like any run.
    """
    from idsync.reconcile import Reconciler, print_reconcile

    day = _as_of(as_of)
    try:
        approved = approve_kinds(approve or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if exclude and until is None:
        raise _fail("--exclude needs --until YYYY-MM-DD (the last day the account is allowed)")
    if until is not None and not exclude:
        raise _fail("--until goes with --exclude REFERENCE")
    fixes = link or restore or disable_orphans or bool(exclude)

    def options(pipeline: Pipeline) -> None:
        _check_targets(pipeline, target)
        _check_approvals(pipeline, approved, sources=False)

    with _engine(pipeline_file, store="run" if fixes else "plan", before=options) as engine:
        _created(engine, as_json)
        reconciler = Reconciler(engine)
        if exclude:
            able, _ = reconciler.targets(target)
            if len(able) != 1:
                raise _fail(
                    "--exclude needs one target: give --target NAME "
                    f"(targets that list accounts: {', '.join(able) or 'none'})"
                )
            last_day = _as_of(until) or engine.today()
            for reference in exclude:
                engine.store.exclude(able[0], reference, last_day, reason=reason)
                if not as_json:
                    console.print(
                        f"excluded {escape(reference)} in {escape(able[0])} until {last_day}",
                        highlight=False,
                    )
        try:
            with graceful_stop() as cancel:
                report = reconciler.run(
                    day,
                    targets=target,
                    link=link,
                    restore=restore,
                    disable_orphans=disable_orphans,
                    dry_run=dry_run,
                    approve=approved,
                    cancel=cancel,
                    time_travel=time_travel,
                )
        except LockHeld:
            raise _lock_held(engine) from None
        except DateRefused as exc:
            raise _fail(str(exc)) from None
    asked = {"unlinked": link, "drift": restore, "unmatched": disable_orphans}
    fixing = set() if dry_run else {kind for kind, on in asked.items() if on}
    code = _findings_code(report, fixing)
    if as_json:
        _print_json({**report.as_json(), "exit_code": code})
    else:
        print_reconcile(console, report, limit)
    raise typer.Exit(code)


def _findings_code(report: Any, fixed: set[str]) -> int:
    """Reconcile's exit code: as a run's when something failed or was held; else 4 while a
    finding is left that no fix of this command took care of, 0 when all is in order."""
    if report.exit_code != EXIT_OK:
        return int(report.exit_code)
    for findings in report.targets.values():
        for kind in ("unmatched", "unlinked", "disputed", "drift", "missing"):
            if getattr(findings, kind) and kind not in fixed:
                return EXIT_PENDING
    return EXIT_OK
