"""``idsync held``, ``approve`` and ``reject``: held work and the decisions on it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from idsync.cli.opening import _engine, _lock_held
from idsync.cli.options import AsOfOpt, HeldIdArg, JsonOpt, PipelineArg, TimeTravelOpt, _as_of
from idsync.cli.output import _fail, _print_json, console, err
from idsync.engine import DateRefused, RunReport
from idsync.report import print_problems, print_run, progress_bars
from idsync.schedule import graceful_stop
from idsync.state import LockHeld


def held_cmd(
    pipeline_file: PipelineArg,
    as_json: JsonOpt = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Also approved, rejected and superseded items.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="Actions to show per item.")] = 20,
) -> None:
    """List held imports and action kinds with what approving them would do."""
    from idsync.approvals import held_items, print_held

    with _engine(pipeline_file, offline=True) as engine:
        items = held_items(
            engine.store,
            engine.pipeline.label,
            str(pipeline_file),
            include_decided=all_items,
            limit=limit,
        )
    if as_json:
        _print_json({"items": items})
    else:
        print_held(console, items, limit)


def approve_cmd(
    pipeline_file: PipelineArg,
    held_ids: Annotated[
        list[int], typer.Argument(help="The held items' ids (idsync held); one run for all.")
    ],
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    time_travel: TimeTravelOpt = False,
) -> None:
    """Carry out held work now: one run of the pipeline with those items approved."""
    from idsync.approvals import ApprovalError, approve

    day = _as_of(as_of)
    with _engine(pipeline_file, store="run") as engine:
        try:
            with progress_bars(err, not as_json) as progress, graceful_stop() as cancel:
                decision = approve(
                    engine,
                    held_ids,
                    as_of=day,
                    progress=progress,
                    cancel=cancel,
                    time_travel=time_travel,
                )
        except ApprovalError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except DateRefused as exc:
            raise _fail(str(exc)) from None
        except LockHeld:
            raise _lock_held(engine) from None
    if as_json:
        _print_json(decision.as_json())
    else:
        numbers = ", ".join(f"#{i}" for i in decision.held_ids)
        console.print(f"[green]approved[/] {numbers}: {escape(decision.message)}", highlight=False)
        report = decision.report
        if isinstance(report, RunReport):
            print_run(console, report)
            print_problems(console, report, errors=err)
        elif report is not None:
            from idsync.reconcile import print_reconcile

            print_reconcile(console, report)
    raise typer.Exit(decision.exit_code)


def reject_cmd(pipeline_file: PipelineArg, held_id: HeldIdArg, as_json: JsonOpt = False) -> None:
    """Close held work without running it (the next run plans and holds it again)."""
    from idsync.approvals import ApprovalError, reject

    with _engine(pipeline_file, offline=True) as engine:
        try:
            decision = reject(engine.store, engine.pipeline.label, held_id)
        except ApprovalError as exc:
            raise _fail(str(exc), exc.exit_code) from None
    if as_json:
        _print_json(decision.as_json())
    else:
        console.print(
            f"[yellow]rejected[/] #{held_id}: {escape(decision.message)}", highlight=False
        )
