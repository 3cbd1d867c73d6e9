"""Text folded for search: "Özdemir" and "ozdemir" find the same person."""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["fold", "folded_values"]

FOLDED_VALUES = 1000
"""How much of an account's folded attribute values is kept for search."""


def fold(text: str) -> str:
    """``text`` in lower case without diacritics, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def folded_values(data: Any) -> str:
    """An account's identifiers (the text attribute values without spaces: user name,
    e-mail address, employee number…), folded, once each, for search."""
    if not isinstance(data, dict):
        return ""
    words = (fold(v) for v in data.values() if isinstance(v, str) and v and " " not in v.strip())
    return " ".join(dict.fromkeys(w for w in words if w))[:FOLDED_VALUES]
