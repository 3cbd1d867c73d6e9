"""The console's local users: a name, an argon2 password hash and a role, in the state store.

Roles: a *viewer* reads every page; an *approver* may also approve and reject held work.
Passwords are hashed with argon2id (argon2-cffi's defaults); the store never sees one.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from idsync.jsondoc import timestamp
from idsync.state import Store

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "UserError",
    "add_user",
    "authenticate",
    "list_users",
    "remove_user",
    "session_stamp",
]

ROLES = ("viewer", "approver")
MIN_PASSWORD = 10
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")


class UserError(ValueError):
    """A user that cannot be added or removed; the message says why."""


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy() -> str:
    """A hash to verify against for unknown names: a wrong name costs what a wrong password does."""
    return _hasher().hash("no user has this password")


def add_user(store: Store, name: str, password: str, role: str, *, replace: bool = False) -> bool:
    """Add a user (or with ``replace``, set an existing one's password and role).

    Returns True when the user is new. Raises :class:`UserError` for a bad name, role or
    password, or an existing user without ``replace``.
    """
    if not _NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: 1 to 200 characters, no spaces or control characters")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if not replace and store.user(name) is not None:
        raise UserError(f"user {name!r} exists; --replace sets a new password and role")
    return store.save_user(name, _hasher().hash(password), role)


def remove_user(store: Store, name: str) -> None:
    """Remove a user (their sessions end at their next request)."""
    if not store.remove_user(name):
        raise UserError(f"no user named {name!r}")


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user's name, role, created and updated time (never the hash)."""
    return [
        {
            "name": u["name"],
            "role": u["role"],
            "created": timestamp(u["created"]),
            "updated": timestamp(u["updated"]),
        }
        for u in store.users()
    ]


def authenticate(store: Store, name: str, password: str) -> dict[str, Any] | None:
    """The user when ``password`` is theirs, else None (unknown names take as long)."""
    user = store.user(name)
    try:
        _hasher().verify(user["password"] if user else _decoy(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher().check_needs_rehash(user["password"]):
        store.save_user(name, _hasher().hash(password), user["role"])
        user = store.user(name)
    return user


def session_stamp(user: dict[str, Any]) -> str:
    """What a session remembers of its user: a new password or role ends older sessions."""
    return hashlib.sha256(f"{user['password']}\n{user['role']}".encode()).hexdigest()[:24]
