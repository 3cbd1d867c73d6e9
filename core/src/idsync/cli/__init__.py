"""The ``idsync`` command (typer + rich).

Exit codes mean something: 0 all done, 1 some actions failed, 2 bad input or configuration,
3 something held by a threshold, 4 (``plan``, ``reconcile``) changes pending. ``--json`` prints
one versioned JSON document on stdout for machines (:mod:`idsync.jsondoc`); everything for
humans goes through rich, results on stdout and errors on stderr. Without a terminal (cron
mail, CI logs) tables are printed at their natural width instead of wrapped to 80 columns.
"""

from __future__ import annotations

from typing import Annotated

import typer

from idsync import __version__, log
from idsync.cli.held import approve_cmd, held_cmd, reject_cmd
from idsync.cli.opening import _state
from idsync.cli.options import AsOfOpt, HeldIdArg, JsonOpt, PipelineArg, TargetOpt, TimeTravelOpt
from idsync.cli.output import _UNWRAPPED, _fail, console, err
from idsync.cli.plugins import check_cmd, config_schema_cmd, plugins_cmd
from idsync.cli.reconcile import reconcile_cmd
from idsync.cli.records import audit_cmd, person_cmd, status_cmd
from idsync.cli.run import EXIT_PENDING, plan_cmd, run_cmd
from idsync.cli.sandbox import demo_cmd, new_plugin_cmd, sandbox_cmd
from idsync.cli.web import serve_cmd, users_add_cmd, users_app, users_list_cmd, users_remove_cmd
from idsync.fleet.commands import register as _register_fleet
from idsync.plugins import Registry

__all__ = [
    "EXIT_PENDING",
    "AsOfOpt",
    "HeldIdArg",
    "JsonOpt",
    "PipelineArg",
    "TargetOpt",
    "TimeTravelOpt",
    "app",
    "approve_cmd",
    "audit_cmd",
    "check_cmd",
    "config_schema_cmd",
    "console",
    "demo_cmd",
    "err",
    "held_cmd",
    "main",
    "new_plugin_cmd",
    "person_cmd",
    "plan_cmd",
    "plugins_cmd",
    "reconcile_cmd",
    "reject_cmd",
    "run_cmd",
    "sandbox_cmd",
    "serve_cmd",
    "status_cmd",
    "users_add_cmd",
    "users_app",
    "users_list_cmd",
    "users_remove_cmd",
]

app = typer.Typer(
    name="idsync",
    help="Identity-lifecycle provisioning: HR sources in, accounts and access out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


# The commands, in the order ``idsync --help`` lists them.
app.command("plugins")(plugins_cmd)
app.command("check")(check_cmd)
app.command("config-schema")(config_schema_cmd)
app.command("plan")(plan_cmd)
app.command("run")(run_cmd)
app.command("audit")(audit_cmd)
app.command("person")(person_cmd)
app.command("sandbox")(sandbox_cmd)
app.command("demo")(demo_cmd)
app.command("reconcile")(reconcile_cmd)
app.command("held")(held_cmd)
app.command("approve")(approve_cmd)
app.command("reject")(reject_cmd)
app.command("status")(status_cmd)
app.command("new-plugin")(new_plugin_cmd)
app.command("serve")(serve_cmd)
app.add_typer(users_app, name="users")
_register_fleet(app)


def main() -> None:
    """Console-script entry point."""
    app()
