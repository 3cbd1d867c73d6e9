"""What the ``idsync`` command prints: results on stdout, errors on stderr, JSON for machines."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from idsync.engine import EXIT_INPUT
from idsync.jsondoc import dumps
from idsync.secrets import redact

console = Console()
err = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the width


_UNWRAPPED = 100_000
"""The width of output that is not a terminal: tables at their natural width, never wrapped."""


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(redact(message))}", highlight=False)
    return typer.Exit(code)


def _print_json(data: Any) -> None:
    """One versioned JSON document on stdout (``data``: a mapping of the command's keys)."""
    sys.stdout.write(dumps(data) + "\n")
