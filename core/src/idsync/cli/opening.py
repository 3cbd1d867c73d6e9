"""Opening a pipeline for a command: its plugins, its file, its engine over the state store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape

from idsync.cli.output import _fail, console, err
from idsync.config import ConfigError, Pipeline, load_pipeline
from idsync.engine import EXIT_HELD, EXIT_INPUT, Engine
from idsync.plugins import PluginLoadError, Registry
from idsync.secrets import redact
from idsync.state import StateError, Store
from idsync.state.location import StateLocation, StoreMissing


class _State:
    strict = False


_state = _State()


def _registry() -> Registry:
    try:
        return Registry(strict=_state.strict)
    except PluginLoadError as exc:
        raise _fail(str(exc)) from None


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
