"""``idsync sandbox``, ``demo`` and ``new-plugin``: the simulators, the demo story, a new plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from idsync.cli.output import _fail, console


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
