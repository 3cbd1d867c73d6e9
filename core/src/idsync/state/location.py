"""Where the state store is: its URL read safely, printed without its password.

The ``state`` key of a pipeline file is a SQLAlchemy URL (or a mapping whose ``url`` is one,
see :mod:`idsync.state.shared`). A database password may hold any
character, ``@`` and ``:`` included; written into a URL as it is, ``@`` would end the user
part early and the rest of the password would pass for a host name (and be printed as one).
:func:`state_url` reads such a URL the way it was meant: the user part runs to the *last*
``@`` before the host, and its user name and password reach the driver exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL

from idsync.secrets import mask_url, register_secret

__all__ = [
    "StateError",
    "StateLocation",
    "StoreMissing",
    "encode_userinfo",
    "literal_password",
    "state_problem",
    "state_url",
    "substitute",
]

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEARCH_PATH = re.compile(r"(?:^|\s)-c\s*search_path=([^\s,]+)(?=\s|$)")
"""One schema set as the connections' search path in libpq's ``options`` (``-csearch_path=x``)."""


class StateError(Exception):
    """The state store cannot be used as it is: missing, empty, damaged, not migrated or not
    reachable. The message says what and where (never a password); commands exit 2."""


class StoreMissing(StateError):
    """There is no state store yet where the URL points (no file, or no idsync tables in the
    database) and it was not to be created."""


def _split_authority(text: str) -> tuple[str, str, str, str] | None:
    """``(scheme://, user info, @, rest)`` of a URL with a user part, else None.

    The user info runs to the last ``@`` of the URL: host names, ports, database names and
    query strings have none, so an ``@`` before it belongs to the password.
    """
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return None
    info, at, host = rest.rpartition("@")
    return f"{scheme}://", info, at, host


def encode_userinfo(text: str) -> str:
    """A URL whose password was written as it is (with ``@`` in it) with its user name and
    password percent-encoded, as a URL must carry them; any other URL unchanged."""
    parts = _split_authority(text)
    if parts is None:
        return text
    head, info, at, host = parts
    if "@" not in info:
        return text  # already parses as written (percent-encoding included)
    user, colon, password = info.partition(":")
    encoded = quote(user, safe="") + (colon + quote(password, safe="") if colon else "")
    return f"{head}{encoded}{at}{host}"


def substitute(template: str, value: Callable[[re.Match[str]], str]) -> str:
    """The ``${NAME}`` references of a state URL replaced by ``value(match)``; one inside the
    user name or password is percent-encoded, so any character (``@``, ``:``, ``/``, ``%``)
    reaches the driver as it was in the environment."""
    parts = _split_authority(template)
    info_end = len(parts[0]) + len(parts[1]) if parts is not None else -1

    def replace(match: re.Match[str]) -> str:
        text = value(match)
        return quote(text, safe="") if match.start() < info_end else text

    return _REF.sub(replace, template)


def state_url(text: str) -> URL:
    """The SQLAlchemy URL of a ``state`` value; :class:`StateError` naming the problem (with
    the password masked) when it is not one."""
    try:
        return sa.make_url(encode_userinfo(text.strip()))
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StateError(
            f"{mask_url(text)!r} is not a database URL: {mask_url(str(exc))}"
        ) from None


@dataclass(frozen=True)
class StateLocation:
    """A state store's URL, what to print for it, and its file (SQLite)."""

    url: URL

    @classmethod
    def parse(cls, text: str | URL) -> StateLocation:
        """The location of the store at ``text`` (a URL string or object)."""
        return cls(text if isinstance(text, URL) else state_url(text))

    @property
    def display(self) -> str:
        """The URL with its password hidden: ``postgresql+psycopg://idsync:***@db/idsync``,
        followed by ``(schema idsync_acme)`` for a store in a schema of its own."""
        schema = self.schema
        if schema is None:
            return mask_url(self.url.render_as_string(hide_password=True))
        rest = _SEARCH_PATH.sub("", _options(self.url)).strip()
        url = (
            self.url.update_query_dict({"options": rest})
            if rest
            else self.url.difference_update_query(["options"])
        )
        return f"{mask_url(url.render_as_string(hide_password=True))} (schema {schema})"

    @property
    def schema(self) -> str | None:
        """The one PostgreSQL schema the store lives in, when its URL sets the search path
        to a single schema (``?options=-csearch_path%3Dacme``); None otherwise (the
        database's default: ``public``)."""
        if self.url.get_backend_name() != "postgresql":
            return None
        found = _SEARCH_PATH.search(_options(self.url))
        if found is None:
            return None
        name = found.group(1).strip('"')
        return name if name and "," not in name else None

    @property
    def file(self) -> Path | None:
        """The database file of a SQLite store (None for other databases and in-memory)."""
        if self.url.get_backend_name() != "sqlite":
            return None
        database = self.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(database)

    def exists(self) -> bool | None:
        """Whether the store's file exists (None: not a file, so not known without connecting)."""
        path = self.file
        return None if path is None else path.exists()

    def driver_problem(self) -> str | None:
        """Why this URL cannot be opened here (an unknown database, a driver not installed),
        found without connecting; None when it can."""
        try:
            dialect = self.url.get_dialect()
        except Exception as exc:  # sqlalchemy names the missing dialect in its message
            return f"{self.display}: no database driver for {self.url.drivername!r} ({exc})"
        try:
            dialect.import_dbapi()
        except ImportError as exc:
            hint = (
                " (pip install 'idsync[postgres]')"
                if self.url.get_backend_name() == "postgresql"
                else ""
            )
            return f"{self.display}: the driver is not installed: {exc}{hint}"
        path = self.file
        if path is not None and not path.parent.exists():
            return f"{self.display}: the directory {path.parent} does not exist"
        return None


def _options(url: URL) -> str:
    """The libpq ``options`` of a URL (several given: joined), or ``""``."""
    value = url.query.get("options", "")
    return value if isinstance(value, str) else " ".join(value)


def state_problem(text: str) -> str | None:
    """What is wrong with a pipeline's ``state`` URL, found without connecting (it does not
    parse, its driver is not installed, its directory does not exist), or None. Registers the
    URL's password as a secret, so it is masked wherever it might appear."""
    try:
        location = StateLocation.parse(text)
    except StateError as exc:
        return str(exc)
    if location.url.password:
        register_secret(str(location.url.password))
    return location.driver_problem()


def literal_password(template: Any) -> bool:
    """Whether a ``state`` value as written in the file (a URL, or a mapping with ``url``)
    carries a password itself rather than a ``${VARIABLE}`` reference: secrets are never
    written in a pipeline file."""
    if isinstance(template, Mapping):
        template = template.get("url")
    if not isinstance(template, str):
        return False
    parts = _split_authority(template)
    if parts is None:
        return False
    _user, colon, password = parts[1].partition(":")
    return bool(colon and password) and _REF.fullmatch(password) is None
