"""LDAP failures as errors that say what was done to which entry, and what to do about it.

The server's answer (result code, its name, the diagnostic message) is kept as it is and
completed with the operation, the DN, the attribute names sent (never their values) and a
short hint for the codes a provisioning run meets.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RETRIABLE", "LdapError"]

BUSY, UNAVAILABLE = 51, 52
RETRIABLE = frozenset({BUSY, UNAVAILABLE, 3, 11})
"""busy, unavailable, timeLimitExceeded, adminLimitExceeded: the same request may pass later."""

HINTS = {
    8: "the server requires an encrypted connection: use an ldaps:// URL or start_tls",
    16: "the directory's schema does not know an attribute sent, or it is not set",
    17: "the directory's schema does not know an attribute sent",
    19: "the directory refused a value (e.g. a password the domain's policy refuses, or a "
    "value too long)",
    20: "the value is there already",
    21: "a value does not have the attribute's syntax (e.g. too long, or not a number)",
    32: "the entry (or its container) does not exist",
    34: "the DN is malformed",
    49: "the bind DN or password is wrong",
    50: "the bind account may not do this: grant it the right on this entry",
    51: "the server is busy: the action is retried in the next run",
    52: "the server is unavailable: the action is retried in the next run",
    53: "the server refused to do it (e.g. a password without an encrypted connection)",
    64: "the naming attribute (RDN) is not allowed here",
    65: "the entry's object classes do not allow an attribute sent, or lack a required one",
    67: "the naming attribute (RDN) can only change by renaming the entry",
    68: "an entry with this DN exists already",
}


class LdapError(Exception):
    """An LDAP operation the server refused, or a connection that failed.

    ``code`` is the LDAP result code (None for a connection failure); ``retriable`` says
    whether the same request may pass later (busy, unavailable, a lost connection).
    """

    def __init__(
        self,
        operation: str,
        dn: str | None,
        *,
        code: int | None = None,
        description: str = "",
        message: str = "",
        attributes: Iterable[str] = (),
        retriable: bool | None = None,
    ) -> None:
        self.operation = operation
        self.dn = dn
        self.code = code
        self.description = description
        self.server_message = message.strip().strip("\x00")
        self.attributes = sorted(set(attributes), key=str.casefold)
        self.retriable = code in RETRIABLE if retriable is None else retriable
        super().__init__(self._text())

    def _text(self) -> str:
        what = f"{self.operation} of {self.dn}" if self.dn else self.operation
        why = f"{self.description or 'error'} ({self.code})" if self.code is not None else ""
        text = f"{what} failed: {why}" if why else f"{what} failed"
        if self.attributes:
            text += f" (attributes: {', '.join(self.attributes)})"
        if self.server_message:
            text += f": {self.server_message}"
        hint = HINTS.get(self.code) if self.code is not None else None
        if hint:
            text += f" [{hint}]"
        return text
