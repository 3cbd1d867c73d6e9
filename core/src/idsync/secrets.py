"""Secret values and their redaction.

Every secret the pipeline resolves (``${ENV}`` references and ``SecretStr`` settings) is
registered here; :func:`redact` replaces each occurrence in a text with ``***``. Logs, audit
messages, plan output and stored error messages all pass through it, so a secret that leaks
into an exception message (say, a token echoed by a server) is still never written.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["MASK", "collect_secrets", "redact", "redact_data", "register_secret", "secrets"]

MASK = "***"
_MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Remember ``value`` (and its base64 forms, as sent in auth headers) for redaction."""
    global _ordered
    if not value or len(value) < _MIN_LENGTH:
        return
    variants = {value, base64.b64encode(value.encode()).decode()}
    with _lock:
        if value in _secrets:
            return
        _secrets.update(variants)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def secrets() -> tuple[str, ...]:
    """The registered secret values, longest first."""
    return _ordered


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for value in _ordered:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_data(data: Any) -> Any:
    """A copy of JSON-like ``data`` with secrets masked in every string and SecretStr hidden."""
    if isinstance(data, SecretStr):
        return MASK
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data


def collect_secrets(model: BaseModel | None) -> Iterable[str]:
    """Every ``SecretStr`` value inside a (possibly nested) settings model."""
    if model is None:
        return
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from collect_secrets(value)
