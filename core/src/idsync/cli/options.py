"""The arguments and options several commands share, and their checks against the pipeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from idsync.cli.output import _fail
from idsync.config import Pipeline

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


HeldIdArg = Annotated[int, typer.Argument(help="The held item's id (idsync held).")]


def _as_of(value: str | None) -> dt.date | None:
    """The ``--as-of`` date, or None for the pipeline's today."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of {value!r} is not a date of the form YYYY-MM-DD") from None


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
