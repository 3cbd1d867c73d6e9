"""Secret values and their redaction.

Every secret the pipeline resolves (``${ENV}`` references and ``SecretStr`` settings) is
registered here; :func:`redact` replaces each occurrence in a text with ``***``. Logs, audit
messages, plan output and stored error messages all pass through it, so a secret that leaks
into an exception message (say, a token echoed by a server) is still never written.

A server that echoes a credential rarely echoes it as it was sent. So a registered secret is
masked in every form it travels in: as it is, URL-encoded (``%40`` for ``@``), base64 with and
without padding (standard and URL-safe alphabets, also where it sits inside a longer base64
text such as a Basic ``key:secret`` header), and cut short: any piece of at least
:data:`CUT_SHORT` characters from the start or the end of one of those forms is masked too.

Independently of what is registered, :func:`mask_urls` hides the password of every URL or
DSN in a text (``postgresql://idsync:***@db/idsync``) and the value of query parameters named
like a secret (``?password=***``); :func:`redact` applies it as well.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr

__all__ = [
    "CUT_SHORT",
    "MASK",
    "collect_secrets",
    "forms",
    "mask_url",
    "mask_urls",
    "redact",
    "redact_data",
    "register_secret",
    "secret_paths",
    "secrets",
]

MASK = "***"
_MIN_LENGTH = 4
CUT_SHORT = 8
"""The shortest piece of a secret that is masked where the secret was cut short."""
_CUTTABLE = 12
"""Forms at least this long are also masked when only their start or end appears."""

_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*:)(?P<password>[^\s'\"<>]+)@"
)
"""``scheme://user:password@``; the password runs to the last ``@`` of the URL, so one with
an ``@`` in it is hidden whole."""
_SECRET_PARAMETER = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|secret|client_secret|token|access_token|"
    r"api_?key|apikey|sslpassword)=)(?P<value>[^&;\s'\"#<>]+)",
    re.IGNORECASE,
)

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def mask_urls(text: str) -> str:
    """``text`` with the password of every URL in it (and every secret-looking query
    parameter) replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", text)


def mask_url(url: Any) -> str:
    """One URL or DSN fit to print: its password (and secret parameters) masked, and every
    registered secret in it too."""
    return redact(str(url))


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 texts ``raw`` becomes: alone (padded and not), and the part of a longer
    base64 text that comes from ``raw`` alone, whatever its offset in that text."""
    out: set[str] = set()
    n = len(raw)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        alone = encode(raw).decode()
        out.update((alone, alone.rstrip("=")))
        # Inside a longer text the bytes before ``raw`` shift it by 0, 1 or 2 bytes in the
        # 3-byte groups; the characters of the groups made of ``raw``'s bytes only are the
        # same whatever comes before or after.
        for shift in range(3):
            shifted = encode(b"\0" * shift + raw).decode()
            start = 0 if shift == 0 else 4
            whole_groups = (n - (3 - shift)) // 3 if shift else n // 3
            end = start + 4 * whole_groups
            if end - start >= CUT_SHORT:
                out.add(shifted[start:end])
    return out


def forms(value: str) -> set[str]:
    """Every form of the secret ``value`` that :func:`redact` masks (besides cut pieces)."""
    found = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    found |= _base64_forms(value.encode())
    return {f for f in found if len(f) >= _MIN_LENGTH}


class _Masker:
    """The registered secrets' forms, ready for finding them in a text.

    Forms of :data:`_CUTTABLE` characters or more are found by their first and last
    :data:`CUT_SHORT` characters (the *anchors*), then followed as far as the text goes on
    matching, so a piece cut from either end is found as well as the whole; shorter forms are
    found whole. Most texts hold no secret: for them the cost is one regular-expression scan
    for any needle, cheaper than looking for each form whole.
    """

    def __init__(self, values: Iterable[str]) -> None:
        self.starts: dict[str, list[str]] = {}
        self.ends: dict[str, list[str]] = {}
        whole: set[str] = set()
        for value in values:
            if len(value) >= _CUTTABLE:
                self.starts.setdefault(value[:CUT_SHORT], []).append(value)
                self.ends.setdefault(value[-CUT_SHORT:], []).append(value)
            else:
                whole.add(value)
        self.whole = frozenset(whole)
        self.needles = tuple(sorted({*self.starts, *self.ends, *whole}, key=len, reverse=True))
        # One scan tells whether any needle is there at all (most texts hold none).
        self.any = (
            re.compile("|".join(re.escape(n) for n in self.needles)) if self.needles else None
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        if self.any is None or self.any.search(text) is None:
            return found
        for needle in self.needles:
            if needle not in text:
                continue
            at = text.find(needle)
            while at != -1:
                found.extend(self._around(text, at, needle))
                at = text.find(needle, at + 1)
        return found

    def _around(self, text: str, at: int, needle: str) -> Iterable[tuple[int, int]]:
        """The spans of secret text around one place where ``needle`` was found."""
        if needle in self.whole:
            yield at, at + len(needle)
        for value in self.starts.get(needle, ()):
            k, limit = CUT_SHORT, min(len(value), len(text) - at)
            while k < limit and text[at + k] == value[k]:
                k += 1
            yield at, at + k
        for value in self.ends.get(needle, ()):
            start, j = at, len(value) - CUT_SHORT
            while j > 0 and start > 0 and text[start - 1] == value[j - 1]:
                start, j = start - 1, j - 1
            yield start, at + CUT_SHORT

    def mask(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        spans.sort()
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        parts, last = [], 0
        for start, end in merged:
            parts.append(text[last:start])
            parts.append(MASK)
            last = end
        parts.append(text[last:])
        return "".join(parts)


_masker = _Masker(())


def register_secret(value: str) -> None:
    """Remember ``value`` (in every form it may travel in) for redaction."""
    global _ordered, _masker
    if not value or len(value) < _MIN_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        values = set().union(*(forms(v) for v in _secrets))
        _ordered = tuple(sorted(values, key=len, reverse=True))
        _masker = _Masker(_ordered)


def secrets() -> tuple[str, ...]:
    """The registered secret values and their forms, longest first."""
    return _ordered


def redact(text: str) -> str:
    """``text`` with every registered secret (in any of its forms, or cut short) and every
    URL password replaced by ``***``."""
    return mask_urls(_masker.mask(text))


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


def secret_paths(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(key path, value)`` of every ``SecretStr`` inside ``value``: models, mappings and
    lists, to any depth (``webhooks.ops.headers.Authorization``)."""
    if isinstance(value, SecretStr):
        yield path, value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_paths(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_paths(item, f"{path}.{index}" if path else str(index))
