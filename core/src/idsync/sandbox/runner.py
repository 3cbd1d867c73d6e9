"""The sandbox: every installed plugin's simulator on 127.0.0.1, filled from one generated world.

``idsync sandbox`` and ``idsync demo`` run :func:`run_forever`; tests and the demo use
:class:`Sandbox` as a context manager::

    with Sandbox(size=200, seed=1) as sandbox:
        sandbox.env["AFAS_BASE_URL"]    # http://127.0.0.1:PORT/... of the AFAS simulator

Each plugin is constructed without settings and asked for its simulator through the
``idsync_sandbox`` hook. A plugin that fails to load, or whose hook fails, is reported in
:attr:`Sandbox.errors` and the others still start.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType

import pluggy
from loguru import logger
from rich.console import Console
from rich.table import Table

from idsync.plugins import new_manager
from idsync.sandbox import hookspecs
from idsync.sandbox.simulator import SandboxApp, SimulatorServer
from idsync.sandbox.world import World, generate_world

__all__ = ["Sandbox", "run_forever"]


class Sandbox:
    """Simulators of every plugin, seeded from one :class:`~idsync.sandbox.world.World`, on loopback.

    ``port_base`` serves the n-th simulator (in plugin-name order) on ``port_base + n``;
    None takes free ports. ``plugins`` replaces entry-point discovery with the given
    (unconfigured) plugin instances; ``world`` replaces generation with a given world.
    Nothing happens until :meth:`start` (or ``with``).
    """

    def __init__(
        self,
        size: int = 1000,
        seed: int = 0,
        port_base: int | None = None,
        today: dt.date | None = None,
        *,
        plugins: Sequence[object] | None = None,
        world: World | None = None,
    ) -> None:
        self.size = size
        self.seed = seed
        self.port_base = port_base
        self.today = today
        self._plugins = plugins
        self._world = world
        self.apps: dict[str, SandboxApp] = {}
        """Simulators by name, in the order they were started."""
        self.servers: dict[str, SimulatorServer] = {}
        self.urls: dict[str, str] = {}
        """Each simulator's base URL, its mount included (what ``{url}`` becomes)."""
        self.env: dict[str, str] = {}
        """Environment variables for the example pipelines, ``{url}`` filled in."""
        self.errors: dict[str, str] = {}
        """Plugins that could not take part, by name, with the reason."""

    @property
    def world(self) -> World:
        """The world the simulators were seeded from (generated on first use)."""
        if self._world is None:
            self._world = generate_world(self.size, self.seed, self.today)
        return self._world

    # -- lifecycle

    def start(self) -> Sandbox:
        """Generate the world, collect the simulators and serve each of them."""
        if self.servers:
            raise RuntimeError("the sandbox is already running")
        world = self.world
        for collected in (self.apps, self.urls, self.env, self.errors):
            collected.clear()
        try:
            for name, plugin in self._discover():
                app = self._simulator(name, plugin, world)
                if app is not None:
                    self._serve(app)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every simulator (latest first). Safe to call more than once."""
        for name in reversed(list(self.servers)):
            self.servers.pop(name).stop()
            logger.bind(system=name).debug("simulator stopped")

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the environment

    def env_lines(self) -> list[str]:
        """``KEY=VALUE`` lines, values quoted for a POSIX shell only where they need it."""
        return [f"{key}={shlex.quote(value)}" for key, value in self.env.items()]

    def write_env_file(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`env` as ``KEY=VALUE`` lines (readable by the owner only: it holds
        credentials). The file can be sourced by a shell and read by dotenv tools."""
        target = Path(path)
        text = "".join(f"{line}\n" for line in self.env_lines())
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        return target

    # -- internals

    def _discover(self) -> Iterator[tuple[str, object]]:
        if self._plugins is not None:
            for plugin in self._plugins:
                yield _plugin_name(plugin), plugin
            return
        from idsync.plugins import Registry

        for info in sorted(Registry().plugins.values(), key=lambda i: i.name):
            if info.error:
                self.errors[info.name] = f"could not load: {info.error}"
            elif info.about is not None and info.instance is not None:
                yield info.name, info.instance

    def _simulator(self, name: str, plugin: object, world: World) -> SandboxApp | None:
        manager = new_manager()
        manager.add_hookspecs(hookspecs)
        try:
            manager.register(plugin, name=name)
            manager.check_pending()
        except (pluggy.PluginValidationError, ValueError) as error:
            self.errors[name] = f"rejected: {error}"
            logger.bind(system=name).warning("plugin rejected: {}", error)
            return None
        try:
            app = manager.hook.idsync_sandbox(world=world)
        except Exception as error:
            self.errors[name] = f"idsync_sandbox failed: {type(error).__name__}: {error}"
            logger.bind(system=name).warning("no simulator: {}", error)
            logger.bind(system=name).opt(exception=error).debug("idsync_sandbox traceback")
            return None
        if app is None:
            return None
        if not isinstance(app, SandboxApp):
            self.errors[name] = f"idsync_sandbox returned {type(app).__name__}, not a SandboxApp"
            return None
        if app.name in self.apps:
            self.errors[name] = f"a simulator named {app.name!r} is already running"
            return None
        return app

    def _serve(self, app: SandboxApp) -> None:
        port = 0 if self.port_base is None else self.port_base + len(self.servers)
        try:
            server = SimulatorServer(app.app, port)
        except OSError as error:
            raise RuntimeError(
                f"cannot serve the {app.name} simulator on 127.0.0.1:{port}: {error.strerror}"
            ) from error
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        url = server.url + app.mount.rstrip("/")
        self.apps[app.name] = app
        self.servers[app.name] = server
        self.urls[app.name] = url
        for key, value in app.env.items():
            if key in self.env:
                logger.bind(system=app.name).warning("{} overrides an earlier simulator's", key)
            self.env[key] = value.replace("{url}", url)
        logger.bind(system=app.name).info("simulator listening on {}", url)


def _plugin_name(plugin: object) -> str:
    about = getattr(plugin, "idsync_about", None)
    if callable(about):
        try:
            return str(about().name)
        except Exception:  # noqa: S110 - the class name is a fine fallback
            pass
    return type(plugin).__name__


def run_forever(
    size: int = 1000,
    seed: int = 0,
    port_base: int | None = None,
    today: dt.date | None = None,
    env_file: str | os.PathLike[str] | None = None,
    *,
    console: Console | None = None,
    stop: threading.Event | None = None,
    plugins: Sequence[object] | None = None,
) -> int:
    """Run the sandbox until Ctrl-C, SIGTERM or ``stop`` is set; returns an exit code.

    Prints each simulator's URL and the environment variables (credentials included) the
    example pipelines read, and writes them to ``env_file`` when given. Returns 0 after a
    clean stop, 2 when no simulator could be started (no plugin with the ``[sandbox]``
    extra, or a port in use).
    """
    console = console or Console()
    stop = stop or threading.Event()
    sandbox = Sandbox(size, seed, port_base, today, plugins=plugins)
    with _stopped_by_signals(stop):
        with console.status(f"Generating an organisation of {size:,} persons (seed {seed})…"):
            world = sandbox.world
        if stop.is_set():  # interrupted while generating
            console.print("Sandbox stopped.")
            return 0
        try:
            sandbox.start()
        except RuntimeError as error:
            console.print(f"[red]{error}[/red]", highlight=False)
            return 2
        try:
            _print_started(console, sandbox, world)
            if not sandbox.apps:
                console.print(
                    "[red]No simulator to start.[/red] Install the plugins with their "
                    "[bold]\\[sandbox][/bold] extra, e.g. pip install 'idsync-afas\\[sandbox]'."
                )
                return 2
            if env_file is not None:
                path = sandbox.write_env_file(env_file)
                console.print(f"Wrote the environment to [bold]{path}[/bold].")
            console.print("Press [bold]Ctrl-C[/bold] to stop.")
            while not stop.wait(0.5):
                pass
        finally:
            sandbox.stop()
    console.print("Sandbox stopped.")
    return 0


def _print_started(console: Console, sandbox: Sandbox, world: World) -> None:
    console.print(
        f"[bold]idsync sandbox[/bold]: {len(world.persons):,} persons "
        f"({len(world.bad_persons)} bad rows), {len(world.departments)} departments, "
        f"seed {world.seed}, today {world.today.isoformat()}",
        soft_wrap=True,
    )
    if sandbox.apps:
        table = Table(title="Simulators on 127.0.0.1", title_justify="left")
        table.add_column("Simulator", style="bold")
        table.add_column("URL", no_wrap=True)
        table.add_column("Holds")
        for name, app in sandbox.apps.items():
            table.add_row(name, sandbox.urls[name], app.summary)
        console.print(table)
        console.print("[bold]Environment[/bold] for the example pipelines:")
        for line in sandbox.env_lines():
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for name, error in sandbox.errors.items():
        console.print(f"[yellow]plugin {name}: {error}[/yellow]", highlight=False)


@contextmanager
def _stopped_by_signals(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on SIGINT (Ctrl-C) and SIGTERM inside the block; the main thread only
    can receive signals, so elsewhere the caller's ``event`` is the only way to stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
