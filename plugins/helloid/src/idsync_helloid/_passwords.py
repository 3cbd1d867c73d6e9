"""Initial passwords for created users: random, and of every character class."""

from __future__ import annotations

import secrets
import string

__all__ = ["generate_password"]

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%&*+-=?@_")


def generate_password(length: int) -> str:
    """A random password of ``length`` characters holding each character class at least once."""
    if length < len(_CLASSES):
        raise ValueError(f"a password needs at least {len(_CLASSES)} characters")
    alphabet = "".join(_CLASSES)
    chars = [secrets.choice(group) for group in _CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
