"""``idsync plugins``, ``check`` and ``config-schema``: what is installed, and whether the
pipeline file is right."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from idsync.cli.opening import _load, _registry, _state
from idsync.cli.options import JsonOpt, PipelineArg
from idsync.cli.output import _fail, _print_json, console, err
from idsync.config import ConfigError, load_pipeline
from idsync.engine import EXIT_FAILED, EXIT_INPUT
from idsync.secrets import redact


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


def config_schema_cmd() -> None:
    """Print the JSON Schema of the pipeline file, with every installed plugin's settings."""
    from idsync.about import pipeline_schema

    sys.stdout.write(json.dumps(pipeline_schema(_registry()), indent=2) + "\n")
