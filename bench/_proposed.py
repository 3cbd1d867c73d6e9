"""A proposed core change, measured before it is made: ``idsync.model._clean`` with a regex.

Every text field of a person passes ``_clean``, which looks at each character in a Python
generator: the largest single cost of validating a person (about half of it). The same
check as one precompiled regular expression gives the same answer for every string (the
characters it refuses are exactly C0, DEL, C1 and the bidirectional controls) and is what
``docs/performance.md`` proposes. ``--proposed`` runs swap it in, in their own process only.
"""

from __future__ import annotations

import re

import idsync.model

__all__ = ["apply"]

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    if _UNPRINTABLE.search(value):
        raise ValueError("contains control characters")
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long; at most {limit} are allowed")
    return value


def apply() -> None:
    """Use the regex ``_clean`` in this process (the model's validators look it up by name)."""
    original = idsync.model._clean
    for text in ("plain", "Ëlise", "a\x0bb", "x\u202ey", "\x9f", "\x7f", "\xa0ok", "a" * 1001):
        for limit in (10, 1000):
            expected = _outcome(original, text, limit)
            assert _outcome(_clean, text, limit) == expected, text
    idsync.model._clean = _clean


def _outcome(check: object, text: str, limit: int) -> str:
    try:
        return repr(check(text, limit))  # type: ignore[operator]
    except ValueError as exc:
        return f"error: {exc}"
