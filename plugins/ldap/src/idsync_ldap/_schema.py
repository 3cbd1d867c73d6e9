"""The directory's attribute types, read from its subschema subentry (RFC 4512 §4.2).

A mapping key is an attribute name, so a key the schema does not define would fail every
create with undefinedAttributeType (or, in AD, be refused as a constraint violation). The
connection test reads the schema once and names such keys, with the nearest defined name,
before a run. OpenLDAP and Active Directory both publish ``attributeTypes`` under the entry
the root DSE names in ``subschemaSubentry``; ldap3 parses the definitions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ldap3.protocol.rfc4512 import AttributeTypeInfo

from idsync_ldap.directory import Directory
from idsync_ldap.errors import LdapError

__all__ = ["Schema", "read_schema"]

_from_definition: Callable[[list[str]], dict[str, Any]] = AttributeTypeInfo.from_definition
"""ldap3's parser of ``attributeTypes`` values (untyped): OID → its AttributeTypeInfo."""


@dataclass(frozen=True)
class Schema:
    """The attribute names the directory defines (every alias), matched without case."""

    names: dict[str, str]
    """Casefolded name → the schema's spelling."""
    server_set: frozenset[str] = frozenset()
    """Casefolded names of the types marked ``NO-USER-MODIFICATION``: the server keeps them
    (``modifyTimestamp``, ``entryUUID``), and a client that writes one is refused."""

    @classmethod
    def parse(cls, definitions: Iterable[str]) -> Schema:
        """The schema of ``attributeTypes`` values (RFC 4512 AttributeTypeDescription)."""
        names: dict[str, str] = {}
        server_set: set[str] = set()
        parsed: dict[str, Any] = _from_definition(list(definitions))
        for info in parsed.values():
            for name in info.name or ():
                names.setdefault(str(name).casefold(), str(name))
                if info.no_user_modification:
                    server_set.add(str(name).casefold())
        return cls(names, frozenset(server_set))

    def defines(self, name: str) -> bool:
        """Whether ``name`` (or an ``attribute;option`` of it) is an attribute type here."""
        return name.split(";", 1)[0].casefold() in self.names

    def problem(self, name: str, *, written: bool = False) -> str | None:
        """Why ``name`` is no attribute of this directory (with the nearest one), or None.

        ``written``: the name is a mapping key, so an attribute only the server sets is a
        problem too (a correlation field may be one: it is only read)."""
        if self.defines(name):
            base = name.split(";", 1)[0].casefold()
            if written and base in self.server_set:
                return (
                    f"the directory sets {self.names[base]!r} itself (NO-USER-MODIFICATION); "
                    "a mapping cannot write it"
                )
            return None
        near = difflib.get_close_matches(name.casefold(), list(self.names), n=1, cutoff=0.6)
        hint = f"; did you mean {self.names[near[0]]!r}?" if near else ""
        return f"the directory's schema has no attribute {name!r}{hint}"


def read_schema(directory: Directory) -> Schema:
    """Read ``attributeTypes`` from the subschema subentry the root DSE names."""
    root = directory.root(["subschemaSubentry"])
    where = root.first("subschemaSubentry") if root is not None else None
    if not where:
        raise LdapError(
            "reading the schema", None, message="the root DSE names no subschemaSubentry"
        )
    entry = directory.read(str(where), ["attributeTypes"], "(objectClass=subschema)")
    definitions = [str(v) for v in entry.values("attributeTypes")] if entry is not None else []
    if not definitions:
        raise LdapError(
            "reading the schema", str(where), message="it lists no attributeTypes to this user"
        )
    return Schema.parse(definitions)
