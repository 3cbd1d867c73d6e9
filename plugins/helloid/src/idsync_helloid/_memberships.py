"""Group memberships the plugin has seen, so that granting a group costs one request.

Knowing whether a user is in a group takes reading the whole group (``GET /groups/{name}``
answers with every member): once per grant, that is a second request per grant, and one
that grows with the group. The plugin reads a group the first time it grants or revokes it,
remembers who was in it and who it added since, and then adds a user who was not in it
straight away (adding a member is idempotent). "Already a member" is never taken from
memory: when the memory says so, the group is read again, as it was before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["Memberships"]


class _Group:
    __slots__ = ("guid", "members")

    def __init__(self, guid: str, members: set[str]) -> None:
        self.guid = guid
        self.members = members


class Memberships:
    """Thread-safe memory of groups by name and GUID (both without case)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}

    def seen(self, names: Iterable[str | None], guid: str, members: set[str]) -> None:
        """A group as just read: its names (and GUID) and its members (folded GUIDs)."""
        group = _Group(guid, members)
        with self._lock:
            for name in (*names, guid):
                if name:
                    self._groups[name.casefold()] = group

    def without(self, names: Iterable[str | None], user: str) -> str | None:
        """The GUID of a known group ``user`` was not in when last seen; else None."""
        folded = user.casefold()
        with self._lock:
            for name in names:
                group = self._groups.get(name.casefold()) if name else None
                if group is not None:
                    return None if folded in group.members else group.guid
        return None

    def added(self, guid: str, user: str) -> None:
        """``user`` was added to the group ``guid``."""
        with self._lock:
            group = self._groups.get(guid.casefold())
            if group is not None:
                group.members.add(user.casefold())

    def removed(self, guid: str, user: str) -> None:
        """``user`` was removed from the group ``guid``."""
        with self._lock:
            group = self._groups.get(guid.casefold())
            if group is not None:
                group.members.discard(user.casefold())

    def forget(self, guid: str) -> None:
        """Drop what is known of the group ``guid`` (it may be gone)."""
        with self._lock:
            stale = self._groups.get(guid.casefold())
            self._groups = {k: g for k, g in self._groups.items() if g is not stale}
