"""The connection to one directory: a pool of bound connections, paged searches, and writes
that answer with :class:`~idsync_ldap.errors.LdapError` instead of result dictionaries.

Every operation borrows one connection from the pool (``settings.connections`` at most, opened
on first need), so the engine's workers run in parallel without sharing a socket. A server
that answers busy or unavailable is asked again with exponential backoff; a read that loses
its connection is repeated on a new one; a write that loses its connection is not (it may have
reached the server), and fails as retriable.

Nothing here logs or raises a value that was sent: ldap3's own answers carry the request,
bind password included, so only the result code, its name and the server's message leave.
"""

from __future__ import annotations

import contextlib
import math
import queue
import random
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError, LDAPSocketSendError
from loguru import logger

from idsync_ldap.errors import RETRIABLE, LdapError
from idsync_ldap.settings import DirectorySettings

__all__ = ["PAGED_RESULTS", "Directory", "Entry"]

PAGED_RESULTS = "1.2.840.113556.1.4.319"
"""The simple paged results control (RFC 2696)."""

IDLE_SECONDS = 60.0
"""A pooled connection unused for longer is replaced before use (servers drop idle ones)."""

_CERTIFICATE_PROBLEMS = ("CERTIFICATE_VERIFY_FAILED", "doesn't match", "certificate")
"""A certificate that is refused stays refused: not worth another attempt."""

_SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}


@dataclass(frozen=True)
class Entry:
    """One entry as the server returned it; attribute names are matched without case."""

    dn: str
    attributes: Mapping[str, list[Any]] = field(default_factory=dict)

    def values(self, name: str) -> list[Any]:
        """Every value of ``name`` (empty when the entry has none)."""
        wanted = name.casefold()
        for key, values in self.attributes.items():
            if key.casefold() == wanted:
                return list(values)
        return []

    def first(self, name: str) -> Any:
        """The first value of ``name``, or None."""
        found = self.values(name)
        return found[0] if found else None

    def name_of(self, name: str) -> str:
        """The server's spelling of the attribute ``name`` (``name`` when it has none)."""
        wanted = name.casefold()
        return next((key for key in self.attributes if key.casefold() == wanted), name)


class Directory:
    """The pooled connections to one configured directory."""

    def __init__(self, settings: DirectorySettings, system: str) -> None:
        self.settings = settings
        self.system = system
        self._server = self._make_server()
        self._idle: queue.LifoQueue[tuple[ldap3.Connection, float]] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.connections)
        self._requests = 0
        self._open = 0
        self.opened = 0
        """The most connections open at once so far."""

    @property
    def requests(self) -> int:
        """Requests sent so far (binds included): what the benchmarks count."""
        return self._requests

    def _count(self) -> None:
        with self._lock:
            self._requests += 1

    # --- connections -------------------------------------------------------------------

    def _make_server(self) -> ldap3.Server:
        settings = self.settings
        parts = urlsplit(settings.url)
        secure = parts.scheme == "ldaps"
        tls = None
        if secure or settings.start_tls:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
                ca_certs_file=settings.ca_file,
                valid_names=[settings.tls_server_name] if settings.tls_server_name else None,
            )
        return ldap3.Server(
            parts.hostname or "",
            port=parts.port or (636 if secure else 389),
            use_ssl=secure,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=settings.timeout,
        )

    def _connect(self) -> ldap3.Connection:
        settings = self.settings
        connection = ldap3.Connection(
            self._server,
            user=settings.bind_dn,
            password=settings.password.get_secret_value(),
            client_strategy=ldap3.SAFE_SYNC,
            raise_exceptions=False,
            receive_timeout=max(1, math.ceil(settings.timeout)),  # ldap3 packs it as an integer
            auto_referrals=False,
        )
        try:
            connection.open()
            if settings.start_tls:
                connection.start_tls()
            self._count()
            ok, result, _, _ = connection.bind()
        except LDAPException as exc:
            _close(connection)
            # ldap3 remembers a failed address as unavailable: start afresh next time.
            self._server = self._make_server()
            text = _exception_text(exc)
            raise LdapError(
                f"connecting to {settings.url}",
                None,
                message=text,
                retriable=not any(mark in text for mark in _CERTIFICATE_PROBLEMS),
            ) from None
        if not ok:
            _close(connection)
            raise LdapError(
                f"bind as {settings.bind_dn} to {settings.url}",
                None,
                code=result.get("result"),
                description=str(result.get("description") or ""),
                message=str(result.get("message") or ""),
            )
        with self._lock:
            self._open += 1
            self.opened = max(self.opened, self._open)
        return connection

    def _discard(self, connection: ldap3.Connection) -> None:
        _close(connection)
        with self._lock:
            self._open -= 1

    @contextmanager
    def _borrow(self) -> Iterator[ldap3.Connection]:
        with self._slots:
            connection = None
            while connection is None:
                try:
                    connection, since = self._idle.get_nowait()
                except queue.Empty:
                    connection = self._connect()
                    break
                if time.monotonic() - since > IDLE_SECONDS or connection.closed:
                    self._discard(connection)  # servers drop idle connections: never write on one
                    connection = None
            healthy = True
            try:
                yield connection
            except BaseException:
                healthy = False
                raise
            finally:
                if healthy and not connection.closed:
                    self._idle.put((connection, time.monotonic()))
                else:
                    self._discard(connection)

    def close(self) -> None:
        """Unbind every idle connection; later operations open new ones."""
        while True:
            try:
                connection, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(connection)

    # --- one request, retried --------------------------------------------------------------

    def _call(
        self,
        operation: str,
        dn: str | None,
        send: Any,
        *,
        write: bool,
        attributes: Sequence[str] = (),
        accept: frozenset[int] = frozenset(),
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send one request (``send(connection)``) and return ``(result, response)``.

        A result code in ``accept`` is returned instead of raised (e.g. noSuchObject for a
        lookup). Busy and unavailable are retried for reads and writes alike (the server did
        nothing); a lost connection only for reads.
        """
        attempt = 0
        while True:
            try:
                with self._borrow() as connection:
                    self._count()
                    _, result, response, _ = send(connection)
            except LDAPException as exc:
                error = LdapError(operation, dn, message=_exception_text(exc), retriable=True)
                unsent = isinstance(exc, LDAPSocketSendError | LDAPSocketOpenError)
                if (write and not unsent) or attempt >= self.settings.retries:
                    raise error from None
            except LdapError as exc:  # could not connect or bind
                if not exc.retriable or attempt >= self.settings.retries:
                    raise
                error = exc
            else:
                code = int(result.get("result", 0))
                if code == 0 or code in accept:
                    return result, list(response or [])
                error = LdapError(
                    operation,
                    dn,
                    code=code,
                    description=str(result.get("description") or ""),
                    message=str(result.get("message") or ""),
                    attributes=attributes,
                )
                if code not in RETRIABLE or attempt >= self.settings.retries:
                    raise error
            attempt += 1
            delay = min(self.settings.backoff * 2 ** (attempt - 1), 30.0)
            logger.bind(system=self.system).debug(
                "{} ({}); again in {:.2f} s (attempt {})", operation, error, delay, attempt + 1
            )
            time.sleep(delay * (0.5 + random.random() / 2))

    # --- reads ---------------------------------------------------------------------------

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: str = "sub",
        size_limit: int = 0,
    ) -> list[Entry]:
        """The entries matching ``search_filter`` (one request: for a few entries only);
        a base that does not exist gives none."""
        _, response = self._call(
            f"search under {base} for {search_filter}",
            None,
            lambda c: c.search(
                base,
                search_filter,
                search_scope=_SCOPES[scope],
                attributes=list(attributes),
                size_limit=size_limit,
            ),
            write=False,
            accept=frozenset({32}),
        )
        return _entries(response)

    def read(
        self, dn: str, attributes: Sequence[str], search_filter: str = "(objectClass=*)"
    ) -> Entry | None:
        """The entry ``dn`` (if it matches ``search_filter``), or None."""
        found = self.search(dn, search_filter, attributes, scope="base")
        return found[0] if found else None

    def paged(
        self, base: str, search_filter: str, attributes: Sequence[str], *, scope: str = "sub"
    ) -> Iterator[Entry]:
        """Every matching entry, a page (``settings.page_size``) per request."""
        cookie: bytes | None = None
        while True:
            result, response = self._call(
                f"paged search under {base} for {search_filter}",
                None,
                lambda c, cookie=cookie: c.search(
                    base,
                    search_filter,
                    search_scope=_SCOPES[scope],
                    attributes=list(attributes),
                    paged_size=self.settings.page_size,
                    paged_cookie=cookie,
                ),
                write=False,
                accept=frozenset({32}),
            )
            yield from _entries(response)
            control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
            cookie = cast(bytes | None, (control.get("value") or {}).get("cookie"))
            if not cookie:
                return

    def root(self, attributes: Sequence[str]) -> Entry | None:
        """The server's root DSE."""
        found = self.search("", "(objectClass=*)", attributes, scope="base")
        return found[0] if found else None

    # --- writes --------------------------------------------------------------------------

    def add(
        self,
        dn: str,
        object_classes: Sequence[str],
        attributes: Mapping[str, Any],
        *,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """Add the entry ``dn``; the result (an ``accept``-ed code is returned, not raised)."""
        result, _ = self._call(
            "add",
            dn,
            lambda c: c.add(dn, list(object_classes), dict(attributes)),
            write=True,
            attributes=list(attributes),
            accept=accept,
        )
        return result

    def modify(
        self,
        dn: str,
        changes: Mapping[str, list[tuple[str, list[Any]]]],
        *,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """Apply ``changes`` (``{attribute: [(MODIFY_…, values)]}``) to ``dn`` atomically."""
        result, _ = self._call(
            "modify",
            dn,
            lambda c: c.modify(dn, dict(changes)),
            write=True,
            attributes=list(changes),
            accept=accept,
        )
        return result

    def move(self, dn: str, rdn: str, superior: str | None) -> None:
        """Rename ``dn`` to ``rdn`` and/or move it below ``superior`` (modify DN)."""
        where = f" to {rdn},{superior}" if superior else f" to {rdn}"
        self._call(
            f"rename{where}",
            dn,
            lambda c: c.modify_dn(dn, rdn, delete_old_dn=True, new_superior=superior),
            write=True,
        )

    def delete(
        self,
        dn: str,
        controls: Sequence[tuple[str, bool, Any]] = (),
        *,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """Delete ``dn``."""
        result, _ = self._call(
            "delete",
            dn,
            lambda c: c.delete(dn, controls=list(controls) or None),
            write=True,
            accept=accept,
        )
        return result

    def set_password(self, dn: str, password: str) -> None:
        """Set a password with the password modify operation (RFC 3062): the server hashes it."""

        def send(c: ldap3.Connection) -> Any:
            return c.extended(
                "1.3.6.1.4.1.4203.1.11.1",
                _password_modify(dn, password),
            )

        self._call("password modify", dn, send, write=True, attributes=["userPassword"])


def _password_modify(dn: str, password: str) -> Any:
    from ldap3.protocol.rfc3062 import PasswdModifyRequestValue

    request = PasswdModifyRequestValue()
    request["userIdentity"] = dn
    request["newPasswd"] = password
    return request


def _entries(response: list[dict[str, Any]]) -> list[Entry]:
    return [
        Entry(dn=str(item["dn"]), attributes=dict(item.get("attributes") or {}))
        for item in response
        if item.get("type") == "searchResEntry"
    ]


def _close(connection: ldap3.Connection) -> None:
    with contextlib.suppress(LDAPException):  # the connection is gone already
        connection.unbind()


def _exception_text(exc: LDAPException) -> str:
    """ldap3's exception text, which names the socket problem (and carries no request)."""
    text = " ".join(str(exc).split())
    mismatch = text.find("doesn't match any name in")
    if mismatch >= 0:  # ldap3 quotes the whole certificate before it: keep what matters
        names = text[mismatch:].rstrip("\"')(,; ")
        return f"the server's certificate {names} (set tls_server_name to the name it carries)"
    return text[:300] or type(exc).__name__
