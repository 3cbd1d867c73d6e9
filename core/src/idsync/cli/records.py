"""``idsync audit``, ``person`` and ``status``: reading what the state store recorded."""

from __future__ import annotations

from typing import Annotated

import typer

from idsync.cli.opening import _engine
from idsync.cli.options import AsOfOpt, JsonOpt, PipelineArg, _as_of
from idsync.cli.output import _fail, _print_json, console
from idsync.engine import EXIT_FAILED, Engine
from idsync.report import print_audit


def audit_cmd(
    pipeline_file: PipelineArg,
    person: Annotated[str | None, typer.Option("--person", help="Only this person.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only this target.")] = None,
    run: Annotated[int | None, typer.Option("--run", help="Only this run.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many records.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Read the audit trail, newest first (dates and times in the local time zone).

    A person, target or run the state store does not know is an error (exit 1; 2 for a
    target the pipeline does not have), not an empty table.
    """
    with _engine(pipeline_file, offline=True) as engine:
        records = engine.store.audit(person=person, target=target, run_id=run, limit=limit)
        if not records:
            _unknown_filters(engine, person, target, run)
    if as_json:
        _print_json({"records": records})
        return
    print_audit(console, records)


def _unknown_filters(
    engine: Engine, person: str | None, target: str | None, run: int | None
) -> None:
    """Fail for a filter that names something the store has never seen."""
    store = engine.store
    if target is not None and target not in engine.pipeline.targets:
        known = ", ".join(engine.pipeline.targets) or "none"
        raise _fail(f"no target named {target!r} in the pipeline (targets: {known})")
    if run is not None and store.run(run) is None:
        raise _fail(f"there is no run {run} in the state store", EXIT_FAILED)
    if person is not None and not store.knows_person(person):
        raise _fail(f"person {person!r} is not in the state store", EXIT_FAILED)


def person_cmd(
    pipeline_file: PipelineArg,
    person_id: Annotated[str, typer.Argument(help="The person's external id.")],
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person: contracts (in conditions per target), accounts, permissions, last actions,
    and why the person is blocked, when the last run blocked them."""
    from idsync.insight import person_view

    day = _as_of(as_of)
    with _engine(pipeline_file, offline=True) as engine:
        view = person_view(engine, person_id, day or engine.today())
    if view is None:
        raise _fail(
            f"person {person_id!r} is not in the state store: no run has seen them (the last "
            "run's sources do not have them, and no run blocked them)",
            EXIT_FAILED,
        )
    if as_json:
        _print_json(view)
        return
    from idsync.insight import print_person

    print_person(console, view)


def status_cmd(
    pipeline_file: PipelineArg,
    as_json: JsonOpt = False,
    runs: Annotated[int, typer.Option("--runs", help="How many of the last runs.")] = 10,
    connect: Annotated[
        bool, typer.Option("--connect/--no-connect", help="Test each connector's connection.")
    ] = True,
) -> None:
    """The last runs (when, how long, what they did, failures, held items) and connector health.

    Exits 1 when a connector fails its connection test or the last run failed.
    """
    from idsync.status import print_status, status_view

    with _engine(pipeline_file, offline=not connect) as engine:
        view = status_view(engine, runs=runs, connect=connect)
    if as_json:
        _print_json(view)
    else:
        print_status(console, view)
    raise typer.Exit(0 if view["healthy"] else EXIT_FAILED)
