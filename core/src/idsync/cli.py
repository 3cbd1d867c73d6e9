"""The ``idsync`` command (typer + rich).

Exit codes mean something: 0 all done, 1 some actions failed, 2 bad input or configuration,
3 something held by a threshold, 4 (``plan``, ``reconcile``) changes pending. ``--json`` prints
one versioned JSON document on stdout for machines (:mod:`idsync.jsondoc`); everything for
humans goes through rich, results on stdout and errors on stderr. Without a terminal (cron
mail, CI logs) tables are printed at their natural width instead of wrapped to 80 columns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync import __version__, log
from idsync.config import ConfigError, Pipeline, load_pipeline
from idsync.engine import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_INPUT,
    EXIT_OK,
    DateRefused,
    Engine,
    RunReport,
    approve_kinds,
)
from idsync.fleet.commands import register as _register_fleet
from idsync.jsondoc import dumps
from idsync.model import ActionStatus
from idsync.plugins import PluginLoadError, Registry
from idsync.report import print_audit, print_plan, print_problems, print_run, progress_bars
from idsync.schedule import graceful_stop
from idsync.secrets import redact
from idsync.state import LockHeld, StateError, Store, now
from idsync.state.location import StateLocation, StoreMissing

app = typer.Typer(
    name="idsync",
    help="Identity-lifecycle provisioning: HR sources in, accounts and access out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the width

EXIT_PENDING = 4
"""``plan`` and ``reconcile``: changes are pending (0 says there is nothing to do)."""

_UNWRAPPED = 100_000
"""The width of output that is not a terminal: tables at their natural width, never wrapped."""


class _State:
    strict = False


_state = _State()

PipelineArg = Annotated[Path, typer.Argument(help="The pipeline file (YAML).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate at this date (YYYY-MM-DD) instead of today.")
]
TimeTravelOpt = Annotated[
    bool,
    typer.Option(
        "--time-travel",
        help="Let --as-of enforce on another date than today (never before the last run).",
    ),
]
TargetOpt = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target (repeatable).")
]


def _print_version(value: bool) -> None:
    if not value:
        return
    console.print(f"idsync {__version__}", highlight=False)
    for info in Registry().listing():
        if not info.builtin:
            state = f" (failed to load: {info.error})" if info.error else ""
            console.print(
                f"  {info.name} {info.version or '?'} ({info.package or '?'}){state}",
                highlight=False,
                soft_wrap=True,
            )
    raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version (and the installed plugins') and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="A plugin that fails to load is fatal.")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines to stderr.")] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = "WARNING",
) -> None:
    """idsync: identity-lifecycle provisioning engine."""
    _state.strict = strict
    for output in (console, err):
        if not output.is_terminal:
            output.width = _UNWRAPPED
    try:
        log.setup(level=log_level.upper(), json_lines=log_json)
    except ValueError:
        raise _fail(
            f"--log-level {log_level!r} is not one of DEBUG, INFO, WARNING or ERROR"
        ) from None


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(redact(message))}", highlight=False)
    return typer.Exit(code)


def _registry() -> Registry:
    try:
        return Registry(strict=_state.strict)
    except PluginLoadError as exc:
        raise _fail(str(exc)) from None


def _as_of(value: str | None) -> dt.date | None:
    """The ``--as-of`` date, or None for the pipeline's today."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of {value!r} is not a date of the form YYYY-MM-DD") from None


def _load(path: Path, registry: Registry, offline: bool = False) -> Pipeline:
    try:
        return load_pipeline(path, registry, offline=offline)
    except ConfigError as exc:
        where_file = escape(exc.file)
        err.print(f"[bold red]{where_file}[/]: {len(exc.errors)} problem(s)", highlight=False)
        for where, message in exc.errors:
            err.print(
                f"  {where_file}: [bold]{escape(where or '(top)')}[/]: {escape(redact(message))}",
                highlight=False,
            )
        raise typer.Exit(EXIT_INPUT) from None


@contextmanager
def _engine(
    path: Path,
    offline: bool = False,
    store: str = "read",
    before: Callable[[Pipeline], None] | None = None,
) -> Iterator[Engine]:
    """The pipeline's engine over its state store, opened as the command may:

    - ``"run"``: a missing store is created (the command says so), and the store is checked
      whole (every page, every JSON value) before anything is sent anywhere;
    - ``"plan"``: a missing store is not created; the plan is made as for a first run;
    - ``"read"``: a missing store is an error (exit 2): reading never creates one.

    A store that is empty, damaged or not migratable is an error (exit 2) for every command.
    ``before`` checks the command's options against the pipeline before the store is opened.
    """
    registry = _registry()
    pipeline = _load(path, registry, offline)
    if before is not None:
        before(pipeline)
    try:
        opened = _open_store(pipeline, store)
        engine = Engine(pipeline, registry, store=opened)
    except StateError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        where = StateLocation.parse(pipeline.state).display
        raise _fail(f"cannot open the state store {where}: {exc}") from None
    try:
        yield engine
    except StateError as exc:
        raise _fail(engine.store.diagnose() or str(exc)) from None
    finally:
        engine.close()


def _open_store(pipeline: Pipeline, mode: str) -> Store:
    location = StateLocation.parse(pipeline.state)
    check: Literal["pages", "all"] = "all" if mode in ("run", "plan") else "pages"
    try:
        return Store(location.url, create=mode == "run", check=check)
    except StoreMissing:
        if mode != "plan":
            raise
    err.print(
        f"[yellow]note:[/] there is no state store at {escape(location.display)} yet: "
        "planned as the first run would (nothing was created)",
        highlight=False,
        soft_wrap=True,
    )
    return Store("sqlite://")


def _first_run(engine: Engine) -> bool:
    """Whether the engine plans over an empty stand-in: the pipeline's store does not exist."""
    return engine.store.location.url != StateLocation.parse(engine.pipeline.state).url


def _created(engine: Engine, as_json: bool) -> None:
    """Say that this command made a new state store (a vanished store is noticed at once)."""
    if engine.store.created and not as_json:
        console.print(
            f"[yellow]new state store[/] {escape(engine.store.location.display)}: created by "
            "this run (no earlier runs were recorded here)",
            highlight=False,
            soft_wrap=True,
        )


def _lock_held(engine: Engine) -> typer.Exit:
    """The exit for a run that found another runner enforcing the pipeline."""
    owner = engine.store.lock_owner(engine.lock)
    return _fail(f"another runner ({owner}) is enforcing this pipeline; try again later", EXIT_HELD)


def _print_json(data: Any) -> None:
    """One versioned JSON document on stdout (``data``: a mapping of the command's keys)."""
    sys.stdout.write(dumps(data) + "\n")


# --- plugins, check, schema ---------------------------------------------------------------


@app.command("plugins")
def plugins_cmd(
    as_json: JsonOpt = False,
    about: Annotated[str | None, typer.Option("--about", help="Describe one plugin.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="With --about: text, json or markdown.")
    ] = "text",
) -> None:
    """List installed plugins: kind, package, version, hooks, and load errors."""
    registry = _registry()
    if about is not None:
        from idsync.about import describe

        info = registry.get(about)
        if info is None:
            raise _fail(f"no plugin named {about!r}")
        if fmt not in ("text", "json", "markdown"):
            raise _fail(f"--format {fmt!r} is not one of text, json or markdown")
        if as_json or fmt == "json":
            _print_json({"plugin": json.loads(describe(info, "json"))})
        else:
            sys.stdout.write(describe(info, fmt))
        return
    listing = registry.listing()
    if as_json:
        _print_json({"plugins": [i.as_dict() for i in listing]})
    else:
        table = Table(title="idsync plugins")
        for column in ("name", "kind", "package", "version", "capabilities / error"):
            table.add_column(column)
        for info in listing:
            problem = info.error or info.contribution_error
            detail = (
                f"[red]{escape(problem)}[/]"
                if problem
                else ", ".join(info.capabilities or info.hooks)
            )
            table.add_row(
                info.name, info.kind or "observer", info.package or "", info.version or "", detail
            )
        console.print(table)
    if any(i.error for i in listing):
        raise typer.Exit(EXIT_INPUT if _state.strict else 0)


@app.command("check")
def check_cmd(
    pipeline_file: PipelineArg,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also try everything a run needs: each system's reads, and the state store.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate a pipeline file (and with --connect, try every system and the state store).

    Exits 0 when all is well, 2 when the file has problems (each named with its key path),
    1 when --connect finds a system or the state store a run could not use.
    """
    registry = _registry()
    if as_json:
        try:
            pipeline = load_pipeline(pipeline_file, registry)
        except ConfigError as exc:
            problems = [{"key": where, "message": redact(msg)} for where, msg in exc.errors]
            _print_json({"file": str(pipeline_file), "ok": False, "problems": problems})
            raise typer.Exit(EXIT_INPUT) from None
    else:
        pipeline = _load(pipeline_file, registry)
        console.print(
            f"[green]ok[/] {escape(str(pipeline_file))}: {len(pipeline.sources)} source(s), "
            f"{len(pipeline.targets)} target(s)",
            soft_wrap=True,
        )
        for where, message in pipeline.warnings():
            err.print(
                f"[yellow]warning[/] {escape(str(pipeline_file))}: [bold]{escape(where)}[/]: "
                f"{escape(message)}",
                highlight=False,
                soft_wrap=True,
            )
    findings = []
    if connect:
        from idsync.connect import check_everything

        findings = check_everything(pipeline, registry)
    failed = any(f.ok is False for f in findings)
    if as_json:
        data: dict[str, Any] = {"file": str(pipeline_file), "ok": not failed, "problems": []}
        data["warnings"] = [{"key": k, "message": m} for k, m in pipeline.warnings()]
        if connect:
            data["connect"] = [f.as_json() for f in findings]
        _print_json(data)
    for finding in findings if not as_json else []:
        mark = {True: "[green]ok[/]", False: "[red]failed[/]", None: "[yellow]?[/]"}[finding.ok]
        plugin = f" ({escape(finding.plugin)})" if finding.plugin else ""
        console.print(
            f"  {mark} {escape(finding.key)}{plugin}: "
            f"{escape(redact('; '.join(finding.messages)))}",
            highlight=False,
            soft_wrap=True,
        )
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command("config-schema")
def config_schema_cmd() -> None:
    """Print the JSON Schema of the pipeline file, with every installed plugin's settings."""
    from idsync.about import pipeline_schema

    sys.stdout.write(json.dumps(pipeline_schema(_registry()), indent=2) + "\n")


# --- plan and run -------------------------------------------------------------------------


def _pending(report: RunReport) -> int:
    """A plan's exit code: held (3) or failed (1) as a run's; else 4 with actions, 0 without."""
    if report.exit_code != EXIT_OK:
        return report.exit_code
    return EXIT_PENDING if report.plan is not None and any(report.plan.actions()) else EXIT_OK


@app.command("plan")
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


def _check_targets(pipeline: Pipeline, targets: list[str] | None) -> None:
    for name in targets or []:
        if name not in pipeline.targets:
            raise _fail(
                f"no target named {name!r} (targets: {', '.join(pipeline.targets) or 'none'})"
            )


def _check_approvals(pipeline: Pipeline, approved: set[str], *, sources: bool = True) -> None:
    """Every ``--approve <system>:<kind>`` names a system of this pipeline, and a kind that
    system can hold: ``import`` for a source, an action kind for a target."""
    names = ", ".join([*pipeline.sources, *pipeline.targets]) or "none"
    for value in sorted(approved):
        system, _, kind = value.rpartition(":")
        if not system:
            if kind == "import" and not sources:
                raise _fail(f"--approve {value}: reconcile holds no imports")
            continue
        if system in pipeline.sources:
            if kind != "import" or not sources:
                raise _fail(
                    f"--approve {value}: {system} is a source; what a source holds is its "
                    f"import ({system}:import)"
                    + ("" if sources else ", which reconcile never holds")
                )
        elif system in pipeline.targets:
            if kind == "import":
                raise _fail(
                    f"--approve {value}: {system} is a target; approve one of its action kinds "
                    f"({system}:delete, {system}:disable, …)"
                )
        else:
            raise _fail(f"--approve {value}: no source or target named {system!r} ({names})")


@app.command("run")
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


# --- audit and person ---------------------------------------------------------------------


@app.command("audit")
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


@app.command("person")
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


# --- sandbox and demo ---------------------------------------------------------------------


@app.command("sandbox")
def sandbox_cmd(
    size: Annotated[
        int, typer.Option("--size", help="Employees in the seeded organisation.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the organisation.")] = 1,
    port_base: Annotated[
        int | None, typer.Option("--port-base", help="First port (default: free ports).")
    ] = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Also write KEY=VALUE lines here.")
    ] = None,
) -> None:
    """Start every installed plugin's simulator on 127.0.0.1 with one seeded organisation."""
    from idsync.sandbox.runner import run_forever

    raise typer.Exit(run_forever(size=size, seed=seed, port_base=port_base, env_file=env_file))


@app.command("demo")
def demo_cmd(
    pipeline_file: Annotated[
        Path, typer.Option("--pipeline", help="The AFAS → HelloID example pipeline.")
    ] = Path("examples/afas-helloid.yaml"),
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where the state file is kept.")
    ] = Path("demo"),
    size: Annotated[int, typer.Option("--size", help="Employees in the sandbox.")] = 400,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the organisation.")] = 7,
) -> None:
    """Tell the lifecycle story end to end on the sandbox simulators."""
    from idsync.sandbox.demo import run_demo

    if not pipeline_file.exists():
        raise _fail(
            f"{pipeline_file} not found: run the demo from the idsync checkout or pass --pipeline"
        )
    story = run_demo(pipeline_file, workdir, size=size, seed=seed, console=console)
    raise typer.Exit(story.exit_code)


# --- operations: reconcile, held work, scheduling, status ---------------------------------


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


@app.command("reconcile")
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


@app.command("held")
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


HeldIdArg = Annotated[int, typer.Argument(help="The held item's id (idsync held).")]


@app.command("approve")
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


@app.command("reject")
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


@app.command("status")
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


@app.command("new-plugin")
def new_plugin_cmd(
    name: Annotated[
        str, typer.Argument(help="The plugin's name, e.g. acme (package idsync-acme).")
    ],
    kind: Annotated[str, typer.Option("--kind", help="source, target or both.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the package directory is made.")
    ] = Path("."),
    simulator: Annotated[
        str,
        typer.Option(
            "--simulator",
            help="minimal: a simulator of a small REST API to develop against; none: no "
            "simulator, the tests run against a live endpoint.",
        ),
    ] = "minimal",
    title: Annotated[
        str | None,
        typer.Option("--title", help="The system's name in prose, e.g. 'SCIM' or 'Acme HR'."),
    ] = None,
) -> None:
    """Write a new plugin package: hooks, settings, simulator, contract tests, README."""
    from idsync.sandbox.scaffold import PYTEST, ScaffoldError, new_plugin

    try:
        root = new_plugin(name, kind, directory, simulator=simulator, title=title)
    except ScaffoldError as exc:
        raise _fail(str(exc)) from None
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    console.print(
        f"[green]created[/] {escape(root.name)} ({kind}) in {escape(str(root))}: "
        f"{len(files)} files",
        highlight=False,
        soft_wrap=True,
    )
    for file in files:
        console.print(f"  {escape(file)}", highlight=False)
    extra = "\\[sandbox]" if simulator != "none" else ""
    console.print(
        "next: [bold]pip install -e "
        f"'{escape(str(root))}{extra}' '{PYTEST}'[/], then [bold]pytest {escape(str(root))}[/]",
        highlight=False,
        soft_wrap=True,
    )


# --- the web console: serve, users ------------------------------------------------------------

_CONSOLE_EXTRA = "the web console is an optional part: pip install 'idsync[console]'"


def _console() -> Any:
    """The console package, or a clear error naming the extra to install."""
    try:
        import idsync.console as console_package
    except ImportError as exc:
        raise _fail(f"{_CONSOLE_EXTRA} ({exc.name or exc} is missing)") from None
    return console_package


@app.command("serve")
def serve_cmd(
    pipeline_files: Annotated[
        list[Path], typer.Argument(help="The pipeline files (YAML) to show.", show_default=False)
    ],
    host: Annotated[
        str, typer.Option("--host", help="The address to listen on (127.0.0.1: this host only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port (0: a free one).")] = 8080,
    as_of: AsOfOpt = None,
    time_travel: TimeTravelOpt = False,
    trust_header: Annotated[
        str | None,
        typer.Option(
            "--trust-header",
            help="Take the user name from this header set by a reverse proxy (needs --trusted-proxy).",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option("--trusted-proxy", help="A reverse proxy's address (repeatable)."),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Session cookies over HTTPS only.")
    ] = False,
    root_path: Annotated[
        str, typer.Option("--root-path", help="The path a reverse proxy serves the console under.")
    ] = "",
) -> None:
    """Serve the web console over the pipelines' state store: runs, plans, held work to
    approve, persons, the audit trail. Sign-in with the users of ``idsync users``.

    A pipeline whose environment variables are missing is shown read-only (no plans,
    approvals, reconciliation or connection tests).
    """
    console_package = _console()
    day = _as_of(as_of) if as_of is not None else None
    if trust_header and not trusted_proxy:
        raise _fail("--trust-header needs --trusted-proxy ADDRESS: the proxy that sets it")
    if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
        raise _fail(f"--root-path {root_path!r}: a path like /idsync (no trailing slash)")
    registry = _registry()
    try:
        loaded = console_package.load_pipelines(pipeline_files, registry)
    except ConfigError as exc:
        err.print(f"[bold red]{escape(exc.file)}[/]: {len(exc.errors)} problem(s)", highlight=False)
        for where, message in exc.errors:
            err.print(f"  {escape(where or '(top)')}: {escape(redact(message))}", highlight=False)
        raise typer.Exit(EXIT_INPUT) from None
    for item in loaded:
        if not item.online:
            err.print(
                f"[yellow]{escape(item.label)}[/]: read-only, its settings could not be loaded: "
                f"{escape(item.problem or '')}",
                highlight=False,
            )
    users = loaded[0].store.users()
    if not users:
        err.print(
            "[yellow]no users yet[/]: add one with "
            f"idsync users add {escape(str(pipeline_files[0]))} NAME --role approver",
            highlight=False,
        )
    settings = console_package.ConsoleSettings(
        as_of=day,
        time_travel=time_travel,
        trust_header=trust_header,
        trusted_proxies=tuple(trusted_proxy or ()),
        secure_cookies=secure_cookies,
        secret_key=os.environ.get("IDSYNC_CONSOLE_SECRET") or None,
    )
    application = console_package.create_app(loaded, registry, settings)

    def ready(url: str) -> None:
        console.print(f"idsync console on {url} (Ctrl-C stops it)", highlight=False, soft_wrap=True)
        sys.stdout.flush()

    try:
        console_package.serve(application, host, port, root_path=root_path, ready=ready)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


users_app = typer.Typer(
    help="The web console's users: add, remove, list.", no_args_is_help=True, add_completion=False
)
app.add_typer(users_app, name="users")


@contextmanager
def _users_of(pipeline_file: Path) -> Iterator[tuple[Any, Any]]:
    """The console package and the pipeline's state store (closed after); a user error
    fails the command with its message."""
    console_package = _console()
    pipeline = _load(pipeline_file, _registry(), offline=True)
    from idsync.state import Store

    try:
        store = Store(pipeline.state)
    except Exception as exc:
        raise _fail(f"cannot open the state store {pipeline.state!r}: {exc}") from None
    try:
        yield console_package, store
    except console_package.UserError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()


@users_app.command("add")
def users_add_cmd(
    pipeline_file: PipelineArg,
    name: Annotated[str, typer.Argument(help="The user name.", show_default=False)],
    role: Annotated[str, typer.Option("--role", help="viewer or approver.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Set a new password and role for an existing user.")
    ] = False,
) -> None:
    """Add a console user (the password is asked for, or read from standard input)."""
    _console()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _users_of(pipeline_file) as (console_package, store):
        added = console_package.add_user(store, name, password, role, replace=replace)
    console.print(f"{'added' if added else 'updated'} {escape(name)} ({role})", highlight=False)


@users_app.command("remove")
def users_remove_cmd(
    pipeline_file: PipelineArg,
    name: Annotated[str, typer.Argument(help="The user name.", show_default=False)],
) -> None:
    """Remove a console user; their sessions end at once."""
    with _users_of(pipeline_file) as (console_package, store):
        console_package.remove_user(store, name)
    console.print(f"removed {escape(name)}", highlight=False)


@users_app.command("list")
def users_list_cmd(pipeline_file: PipelineArg, as_json: JsonOpt = False) -> None:
    """List the console's users and their roles."""
    with _users_of(pipeline_file) as (console_package, store):
        users = console_package.list_users(store)
    if as_json:
        _print_json({"users": users})
        return
    table = Table(show_edge=False)
    for column in ("name", "role", "created", "updated"):
        table.add_column(column)
    for user in users:
        table.add_row(
            escape(user["name"]), user["role"], user["created"][:19], user["updated"][:19]
        )
    if not users:
        table.add_row("[dim]no users[/]")
    console.print(table)


# --- the fleet: schedule, worker, fleet ------------------------------------------------------

_register_fleet(app)


def main() -> None:
    """Console-script entry point."""
    app()
