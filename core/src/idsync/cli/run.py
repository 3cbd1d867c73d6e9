"""``idsync plan`` and ``run`` (once, or on a schedule with ``--every`` / ``--cron``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from idsync.cli.opening import _created, _engine, _first_run, _load, _lock_held, _registry
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
from idsync.cli.output import _fail, _print_json, console, err
from idsync.config import Pipeline
from idsync.engine import EXIT_OK, DateRefused, RunReport, approve_kinds
from idsync.model import ActionStatus
from idsync.report import print_plan, print_problems, print_run, progress_bars
from idsync.schedule import graceful_stop
from idsync.secrets import redact
from idsync.state import LockHeld, now

EXIT_PENDING = 4
"""``plan`` and ``reconcile``: changes are pending (0 says there is nothing to do)."""


def _pending(report: RunReport) -> int:
    """A plan's exit code: held (3) or failed (1) as a run's; else 4 with actions, 0 without."""
    if report.exit_code != EXIT_OK:
        return report.exit_code
    return EXIT_PENDING if report.plan is not None and any(report.plan.actions()) else EXIT_OK


def plan_cmd(
    pipeline_file: PipelineArg,
    as_of: AsOfOpt = None,
    target: TargetOpt = None,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", help="Action rows to show per target.")] = 50,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also save the plan here, for run --plan to carry out."),
    ] = None,
) -> None:
    """Show what a run would do. Reads the sources and the targets; changes nothing anywhere.

    Exits 0 when there is nothing to do, 4 when a run would carry out actions, 3 when it
    would hold something, 1 when a source could not be read or a target refused the
    credentials or could not be reached.
    """
    day = _as_of(as_of)
    with _engine(pipeline_file, store="plan", before=lambda p: _check_targets(p, target)) as engine:
        first = _first_run(engine)
        day = day or engine.today()
        with progress_bars(err, not as_json) as progress:
            report = engine.plan(day, targets=target, progress=progress)
        if out is not None and report.plan is not None:
            from idsync.saved import save

            save(out, engine.pipeline.label, report.plan, report.imports, now())
            err.print(
                f"plan saved to {escape(str(out))}: idsync run {escape(str(pipeline_file))} --plan {escape(str(out))}",
                highlight=False,
                soft_wrap=True,
            )
    code = _pending(report)
    if as_json:
        data = (
            report.plan.as_json()
            if report.plan
            else {"as_of": day, "actions": [], "held": [], "blocked": []}
        )
        data.update(
            error=report.error,
            exit_code=code,
            first_run=first,
            stopped_targets=[trip.as_json() for trip in report.breakers],
        )
        _print_json(data)
    else:
        if report.plan:
            print_plan(console, report.plan, limit)
        print_problems(console, report, errors=err)
        for trip in report.breakers:
            err.print(
                f"[bold red]stopped[/] {escape(trip.target)} while planning: "
                f"{escape(trip.outage.value)} ({escape(trip.detail)}); the persons it would "
                "decide are blocked",
                highlight=False,
                soft_wrap=True,
            )
    raise typer.Exit(code)


def run_cmd(
    pipeline_file: PipelineArg,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Call every hook read-only.")] = False,
    as_of: AsOfOpt = None,
    approve: Annotated[
        list[str] | None,
        typer.Option(
            "--approve",
            help="Release held work: import, a transition or an action kind, or <system>:<kind>.",
        ),
    ] = None,
    target: TargetOpt = None,
    as_json: JsonOpt = False,
    time_travel: TimeTravelOpt = False,
    saved_plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Carry out exactly this saved plan (idsync plan --out), or nothing.",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Run forever, one run per interval (15m, 1h, 1d)."),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option("--cron", help="Run forever on a cron schedule ('*/15 * * * *')."),
    ] = None,
) -> None:
    """Import, plan, check thresholds and enforce (once, or forever with --every / --cron)."""
    if every is not None or cron is not None:
        if saved_plan is not None:
            raise _fail("--plan cannot be scheduled: a saved plan is carried out once")
        _scheduled(pipeline_file, every, cron, dry_run, as_of, approve, target, as_json)
    day = _as_of(as_of)
    try:
        approved = approve_kinds(approve or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    expect = None

    def options(pipeline: Pipeline) -> None:
        nonlocal day, expect
        _check_targets(pipeline, target)
        _check_approvals(pipeline, approved)
        if saved_plan is not None:
            from idsync.saved import PlanChanged, load

            try:
                expect = load(saved_plan, pipeline.label)
            except PlanChanged as exc:
                raise _fail(str(exc)) from None
            if day is not None and day != expect.as_of:
                raise _fail(f"--as-of {day} differs from the saved plan's date {expect.as_of}")
            day = expect.as_of

    with _engine(pipeline_file, store="run", before=options) as engine:
        _created(engine, as_json)
        try:
            with progress_bars(err, not as_json) as progress, graceful_stop() as cancel:
                report = engine.run(
                    day,
                    dry_run=dry_run,
                    approve=approved,
                    targets=target,
                    progress=progress,
                    cancel=cancel,
                    time_travel=time_travel,
                    expect=expect,
                )
        except LockHeld:
            raise _lock_held(engine) from None
        except DateRefused as exc:
            raise _fail(str(exc)) from None
        created = engine.store.created
    if as_json:
        _print_json(
            {
                "run": report.run_id,
                "exit_code": report.exit_code,
                "counts": report.nested_counts(),
                "held": [h.model_dump() for h in report.held],
                "blocked": [b.model_dump() for b in report.blocked],
                "stopped_targets": [trip.as_json() for trip in report.breakers],
                "state_created": created,
                "error": report.error,
            }
        )
    else:
        if report.error is None or report.plan is not None:
            print_run(console, report)  # a run whose sources failed did nothing to tabulate
        print_problems(console, report, errors=err)
        if report.stopped:
            console.print("[yellow]stopped[/]: the next run does what this one did not start")
        if report.count(ActionStatus.FAILED.value):
            console.print(
                f"[red]{report.count(ActionStatus.FAILED.value)} action(s) failed[/]: "
                f"idsync audit {escape(str(pipeline_file))} --run {report.run_id}",
                highlight=False,
                soft_wrap=True,
            )
    raise typer.Exit(report.exit_code)


def _scheduled(
    pipeline_file: Path,
    every: str | None,
    cron: str | None,
    dry_run: bool,
    as_of: str | None,
    approve: list[str] | None,
    target: list[str] | None,
    as_json: bool,
) -> None:
    """``idsync run --every/--cron``: validate, then run until stopped (exits the command)."""
    from idsync.schedule import Schedule, run_forever

    try:
        schedule = Schedule.parse(every, cron)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_of is not None:
        raise _fail("--as-of cannot be scheduled: scheduled runs evaluate at today's date")
    if approve:
        raise _fail("--approve cannot be scheduled: approve held work once (idsync approve)")
    registry = _registry()
    pipeline = _load(pipeline_file, registry)
    _check_targets(pipeline, target)

    def out(line: str) -> None:
        if as_json:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        else:
            console.print(escape(redact(line)), highlight=False, soft_wrap=True)

    raise typer.Exit(
        run_forever(
            pipeline_file,
            registry,
            schedule,
            dry_run=dry_run,
            targets=target,
            as_json=as_json,
            out=out,
        )
    )
