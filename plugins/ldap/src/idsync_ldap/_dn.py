"""Distinguished names: building them with escaped values, and comparing them as the server does.

A server may write the same DN differently from how it was sent (``OU=Sales`` or ``ou=sales``,
``\\,`` or ``\\2C``), so DNs are compared by their parts: attribute types without case, values
unescaped and without case (the matching rule of ``cn``, ``ou`` and ``dc``).
"""

from __future__ import annotations

import re

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import escape_rdn

__all__ = [
    "child",
    "escape_rdn",
    "first_rdn",
    "first_value",
    "is_dn",
    "key",
    "parent",
    "parse_dn",
    "same",
    "within",
]

_HEX = re.compile(r"\\([0-9a-fA-F]{2})|\\(.)")


def _unescape(value: str) -> str:
    raw = bytearray()
    pos = 0
    for match in _HEX.finditer(value):
        raw += value[pos : match.start()].encode()
        raw += bytes.fromhex(match.group(1)) if match.group(1) else match.group(2).encode()
        pos = match.end()
    raw += value[pos:].encode()
    return raw.decode("utf-8", "replace")


_ATTRIBUTE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)\s*$")


def parse_dn(dn: str) -> list[tuple[str, str, str]]:
    """``[(attribute, escaped value, separator), …]`` of a DN (RFC 4514, as servers write it:
    a ``#`` or ``=`` inside a value is taken as it is). Raises ``LDAPInvalidDnError``."""
    parts: list[tuple[str, str, str]] = []
    current: list[str] = []
    escaped = False
    for char in dn:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",+;":
            parts.append(_component("".join(current), dn, "," if char == ";" else char))
            current = []
        else:
            current.append(char)
    if escaped:
        raise LDAPInvalidDnError(f"{dn!r} ends in an unfinished escape")
    if current or parts:
        parts.append(_component("".join(current), dn, ""))
    return parts


def _component(text: str, dn: str, separator: str) -> tuple[str, str, str]:
    attribute, equals, value = text.partition("=")
    if not equals or not _ATTRIBUTE.match(attribute):
        raise LDAPInvalidDnError(f"{dn!r} is not a distinguished name (at {text!r})")
    return (
        attribute.strip(),
        value.strip(" ") if not value.endswith("\\ ") else value.lstrip(" "),
        separator,
    )


def _parts(dn: str) -> list[tuple[str, str]]:
    return [
        (attr.strip().casefold(), _unescape(value).strip().casefold())
        for attr, value, _ in parse_dn(dn)
    ]


def is_dn(text: str) -> bool:
    """Whether ``text`` parses as a non-empty DN."""
    try:
        return bool(text.strip()) and bool(parse_dn(text))
    except LDAPInvalidDnError:
        return False


def key(dn: str) -> tuple[tuple[str, str], ...]:
    """A DN's comparable form (raises ``LDAPInvalidDnError`` for a malformed one)."""
    return tuple(_parts(dn))


def same(a: str | None, b: str | None) -> bool:
    """Whether two DNs name the same entry (False when either is missing or malformed)."""
    if not a or not b:
        return False
    try:
        return key(a) == key(b)
    except LDAPInvalidDnError:
        return False


def within(dn: str, base: str) -> bool:
    """Whether ``dn`` is ``base`` or lies below it."""
    try:
        inner, outer = key(dn), key(base)
    except LDAPInvalidDnError:
        return False
    return len(inner) >= len(outer) and inner[len(inner) - len(outer) :] == outer


def parent(dn: str) -> str:
    """The DN of the container holding ``dn`` (as the server wrote it)."""
    components = parse_dn(dn)
    first = next((i for i, (_, _, sep) in enumerate(components) if sep != "+"), len(components))
    return _join(components[first + 1 :])


def _join(components: list[tuple[str, str, str]]) -> str:
    text = ""
    for attribute, value, separator in components:
        text += f"{attribute}={value}{separator}"
    return text.rstrip(",+")


def first_rdn(dn: str) -> str:
    """The first RDN of ``dn`` as the server wrote it (``CN=Jan\\, de Vries``)."""
    components = parse_dn(dn)
    first = next((i for i, (_, _, sep) in enumerate(components) if sep != "+"), len(components))
    return _join(components[: first + 1])


def first_value(dn: str) -> str:
    """The (unescaped) value of the DN's first RDN: ``Sales`` of ``CN=Sales,OU=Groups,…``."""
    components = parse_dn(dn)
    return _unescape(components[0][1]) if components else ""


def child(attribute: str, value: str, container: str) -> str:
    """``attribute=value,container`` with the value escaped as an RDN needs."""
    return f"{attribute}={escape_rdn(value)},{container}"
