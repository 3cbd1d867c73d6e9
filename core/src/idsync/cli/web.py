"""``idsync serve`` and ``idsync users``: the web console and its users."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from idsync.cli.opening import _load, _registry
from idsync.cli.options import AsOfOpt, JsonOpt, PipelineArg, TimeTravelOpt, _as_of
from idsync.cli.output import _fail, _print_json, console, err
from idsync.config import ConfigError
from idsync.engine import EXIT_INPUT
from idsync.secrets import redact
from idsync.state import Store

_CONSOLE_EXTRA = "the web console is an optional part: pip install 'idsync[console]'"


def _console() -> Any:
    """The console package, or a clear error naming the extra to install."""
    try:
        import idsync.console as console_package
    except ImportError as exc:
        raise _fail(f"{_CONSOLE_EXTRA} ({exc.name or exc} is missing)") from None
    return console_package


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


@contextmanager
def _users_of(pipeline_file: Path) -> Iterator[tuple[Any, Any]]:
    """The console package and the pipeline's state store (closed after); a user error
    fails the command with its message."""
    console_package = _console()
    pipeline = _load(pipeline_file, _registry(), offline=True)

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
