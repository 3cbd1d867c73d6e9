"""Initial passwords: random, long, and of the four character classes a domain policy asks for."""

from __future__ import annotations

import secrets
import string

__all__ = ["generate_password"]

_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#%+-=?@_")


def generate_password(length: int) -> str:
    """``length`` random characters holding every character class at least once.

    Active Directory's complexity rule wants three of the four classes and no part of the
    account name; a random password of 8 or more characters of all four meets it.
    """
    if length < len(_CLASSES):
        raise ValueError(f"an initial password needs at least {len(_CLASSES)} characters")
    rng = secrets.SystemRandom()
    chars = [rng.choice(group) for group in _CLASSES]
    everything = "".join(_CLASSES)
    chars.extend(rng.choice(everything) for _ in range(length - len(chars)))
    rng.shuffle(chars)
    return "".join(chars)
