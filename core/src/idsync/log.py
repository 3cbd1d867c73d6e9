"""Logging: loguru, one line per event, with run, system, person and action bound.

:func:`setup` installs a single sink (human-readable or JSON lines) whose records pass through
the secret redaction first, so no registered secret ever reaches a log.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from idsync.secrets import redact, redact_data

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["setup"]

_FIELDS = ("run", "system", "person", "action")


def _redacting_patcher(record: Record) -> None:
    record["message"] = redact(record["message"])
    for key, value in list(record["extra"].items()):
        if isinstance(value, str):
            record["extra"][key] = redact(value)
    if record["exception"] is not None:
        exc_type, exc, tb = record["exception"]
        if exc is not None and any(redact(str(a)) != str(a) for a in exc.args):
            exc.args = tuple(redact(str(a)) for a in exc.args)
        record["exception"] = type(record["exception"])(exc_type, exc, tb)


def _human(record: Record) -> str:
    bound = " ".join(f"{k}={record['extra'][k]}" for k in _FIELDS if record["extra"].get(k))
    bound = f" [{bound}]" if bound else ""
    return (
        "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level>"
        + bound.replace("{", "{{").replace("}", "}}")
        + " {message}\n{exception}"
    )


def _text_sink(stream: TextIO) -> Any:
    """Write the formatted line redacted as a whole: the traceback too, with chained
    exceptions and exceptions whose ``__str__`` shows more than their arguments."""

    def sink(message: Any) -> None:
        stream.write(redact(str(message)))
        stream.flush()

    return sink


def _json_sink(stream: TextIO) -> Any:
    def sink(message: Any) -> None:
        record = message.record
        line: dict[str, Any] = {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "message": record["message"],
        }
        line.update({k: redact_data(v) for k, v in record["extra"].items() if v is not None})
        if record["exception"] is not None:
            line["exception"] = redact(str(record["exception"].value))
        stream.write(json.dumps(line, default=str) + "\n")
        stream.flush()

    return sink


def setup(level: str = "INFO", json_lines: bool = False, stream: TextIO | None = None) -> None:
    """Send logs to ``stream`` (stderr by default) at ``level``, redacted, as text or JSON."""
    out = stream or sys.stderr
    logger.remove()
    logger.configure(patcher=_redacting_patcher)
    if json_lines:
        logger.add(_json_sink(out), level=level, backtrace=False, diagnose=False)
    else:
        tty = bool(getattr(out, "isatty", lambda: False)())
        colorize = "NO_COLOR" not in os.environ and (tty or "FORCE_COLOR" in os.environ)
        logger.add(
            _text_sink(out),
            level=level,
            format=_human,
            backtrace=False,
            diagnose=False,
            colorize=colorize,
        )
