"""``idsync schedule add|list|remove``, ``idsync worker`` and ``idsync fleet``.

The fleet store's URL comes from ``--fleet`` or ``IDSYNC_FLEET``. procrastinate is an optional
part (``pip install 'idsync[fleet]'``); without it these commands say so and exit 2.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync.config import ConfigError, load_pipeline
from idsync.plugins import Registry
from idsync.secrets import redact

if TYPE_CHECKING:
    from idsync.fleet.queue import Fleet

__all__ = ["register"]

_EXTRA = "the fleet is an optional part: pip install 'idsync[fleet]'"
_EXIT_INPUT = 2

console = Console()
err = Console(stderr=True, soft_wrap=True)

FleetOpt = Annotated[
    str | None,
    typer.Option(
        "--fleet",
        envvar="IDSYNC_FLEET",
        help="The fleet's PostgreSQL store (postgresql+psycopg://…; or IDSYNC_FLEET).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

schedule_app = typer.Typer(
    help="The fleet's pipelines and their schedules (on the fleet's PostgreSQL store).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(redact(message))}", highlight=False)
    return typer.Exit(_EXIT_INPUT)


def _fleet(url: str | None) -> Fleet:
    if not url:
        raise _fail("give the fleet's store with --fleet or IDSYNC_FLEET")
    try:
        from idsync.fleet.queue import Fleet, FleetError
    except ImportError as exc:
        raise _fail(f"{_EXTRA} ({exc.name or exc} is missing)") from None
    try:
        return Fleet(url)
    except FleetError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(f"cannot open the fleet's store: {type(exc).__name__}: {exc}") from None


@schedule_app.command("add")
def schedule_add_cmd(
    pipeline_file: Annotated[Path, typer.Argument(help="The pipeline file (YAML).")],
    every: Annotated[
        str | None, typer.Option("--every", help="One run per interval (15m, 1h, 1d).")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Runs on a cron schedule ('*/15 * * * *').")
    ] = None,
    queue: Annotated[
        str, typer.Option("--queue", help="The queue its runs go to (by size: small, large).")
    ] = "pipelines",
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="KEY=VALUE lines the pipeline's ${VARIABLES} come from (its secrets).",
        ),
    ] = None,
    fleet_url: FleetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a pipeline to the fleet (or change its schedule). Only paths are stored."""
    from idsync.fleet.schedules import read_env_file
    from idsync.schedule import Schedule

    try:
        schedule = Schedule.parse(every, cron)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    env = dict(os.environ)
    if env_file is not None:
        try:
            env.update(read_env_file(env_file))
        except (OSError, ValueError) as exc:
            raise _fail(f"--env-file: {exc}") from None
    try:
        pipeline = load_pipeline(pipeline_file, Registry(), env=env, offline=True)
    except ConfigError as exc:
        where, message = exc.errors[0] if exc.errors else ("", "invalid")
        raise _fail(f"{exc.file}: {where or '(top)'}: {message}") from None
    fleet = _fleet(fleet_url)
    from idsync.state.shared import same_store

    if same_store(pipeline.state, fleet.url):
        err.print(
            f"[yellow]warning:[/] {escape(pipeline.label)} keeps its state in the fleet's own "
            "schema: a second pipeline doing so would mix their accounts. Give each pipeline "
            "a schema of its own: state: {url: ..., per_pipeline: true}",
            highlight=False,
        )
    try:
        added = fleet.schedules.add(
            pipeline.label, pipeline_file, schedule, queue=queue, env_file=env_file
        )
    finally:
        fleet.close()
    if as_json:
        print(json.dumps({"pipeline": added.pipeline, "queue": added.queue}))
        return
    console.print(
        f"scheduled [bold]{escape(added.pipeline)}[/]: {escape(schedule.describe())}, "
        f"queue {escape(queue)}",
        highlight=False,
    )


@schedule_app.command("list")
def schedule_list_cmd(fleet_url: FleetOpt = None, as_json: JsonOpt = False) -> None:
    """The fleet's pipelines and their schedules."""
    fleet = _fleet(fleet_url)
    try:
        rows = fleet.schedules.all()
    finally:
        fleet.close()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "pipeline": r.pipeline,
                        "path": r.path,
                        "env_file": r.env_file,
                        "schedule": r.schedule.describe(),
                        "queue": r.queue,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(show_edge=False)
    for column in ("pipeline", "schedule", "queue", "file"):
        table.add_column(column)
    for r in rows:
        table.add_row(escape(r.pipeline), r.schedule.describe(), escape(r.queue), escape(r.path))
    if not rows:
        table.add_row("[dim]no pipelines[/]", "", "", "")
    console.print(table)


@schedule_app.command("remove")
def schedule_remove_cmd(
    pipeline: Annotated[str, typer.Argument(help="The pipeline's name.")],
    fleet_url: FleetOpt = None,
) -> None:
    """Take a pipeline out of the fleet (a run in progress finishes)."""
    fleet = _fleet(fleet_url)
    try:
        removed = fleet.schedules.remove(pipeline)
    finally:
        fleet.close()
    if not removed:
        raise _fail(f"pipeline {pipeline!r} is not scheduled")
    console.print(f"removed [bold]{escape(pipeline)}[/]", highlight=False)


def worker_cmd(
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", help="Work on this queue (repeatable; default: every queue)."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Runs at once in this process.")
    ] = 1,
    name: Annotated[str | None, typer.Option("--name", help="The worker's name in logs.")] = None,
    fleet_url: FleetOpt = None,
) -> None:
    """Run a fleet worker until SIGTERM/SIGINT (the runs in flight finish first).

    Run one worker on the control queue (``--queue control``) for the periodic tick and the
    sweep of dead workers' jobs, and as many as needed on the pipelines' queues."""
    fleet = _fleet(fleet_url)
    from idsync.fleet.queue import FleetError  # there: _fleet imported it

    try:
        fleet.run_worker(queue or None, concurrency, name)
    except FleetError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        fleet.close()


def fleet_cmd(fleet_url: FleetOpt = None, as_json: JsonOpt = False) -> None:
    """What the fleet is doing: per pipeline due, queued, running, stalled or failing."""
    from idsync.fleet.status import fleet_status

    fleet = _fleet(fleet_url)
    try:
        lines = fleet_status(fleet)
    finally:
        fleet.close()
    if as_json:
        print(json.dumps([line.as_json() for line in lines]))
        return
    table = Table(show_edge=False)
    for column in ("pipeline", "state", "schedule", "queue", "next start", "last run"):
        table.add_column(column)
    styles: dict[str, Any] = {"stalled": "bold red", "running": "green", "queued": "cyan"}
    for line in lines:
        last = line.last_status or "never"
        if line.failing:
            last = f"[red]{escape(last)}[/]"
            if line.last_error:
                last += f" [dim]{escape(redact(line.last_error)[:80])}[/]"
        style = styles.get(line.state)
        state = f"[{style}]{line.state}[/]" if style else line.state
        table.add_row(
            escape(line.pipeline),
            state,
            line.schedule,
            escape(line.queue),
            line.next_start.isoformat(timespec="seconds"),
            last,
        )
    if not lines:
        table.add_row("[dim]no pipelines (idsync schedule add)[/]", "", "", "", "", "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the fleet's commands to the ``idsync`` command."""
    app.add_typer(schedule_app, name="schedule")
    app.command("worker")(worker_cmd)
    app.command("fleet")(fleet_cmd)
