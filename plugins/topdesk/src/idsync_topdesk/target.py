"""TOPdesk persons as a target: flat account data to and from TOPdesk's write body.

Account data keys are the person write-body field names (``surName``, ``email``, …). A dotted
``branch.name``, ``department.name`` or ``budgetHolder.name`` is looked up by name and written
as ``{"id": …}``; ``manager.id`` is written as ``{"id": …}`` as it is; any other dotted key is
a nested field (``optionalFields1.text1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from idsync_topdesk.client import TopdeskClient
from idsync_topdesk.settings import TopdeskSettings

__all__ = [
    "ACCOUNT_KEYS",
    "ATTRIBUTES",
    "LOOKUPS",
    "Body",
    "WriteError",
    "build_body",
    "flatten",
    "without_unchanged",
]

LOOKUPS: dict[str, str] = {
    "branch": "branches",
    "department": "departments",
    "budgetHolder": "budgetholders",
}
"""Person lookup fields written by name, and the list each name is looked up in."""

_LABELS = {"branch": "branch", "department": "department", "budgetHolder": "budget holder"}

ACCOUNT_KEYS = [
    "surName",
    "prefixes",
    "firstName",
    "firstInitials",
    "gender",
    "email",
    "phoneNumber",
    "mobileNumber",
    "employeeNumber",
    "networkLoginName",
    "tasLoginName",
    "mainframeLoginName",
    "jobTitle",
    "branch.name",
    "department.name",
    "budgetHolder.name",
    "manager.id",
    "isManager",
]
"""The keys an imported or correlated account reports."""

ATTRIBUTES = (
    *(key for key in ACCOUNT_KEYS if key != "manager.id"),
    "title",
    "birthName",
    "fax",
    "clientReferenceNumber",
    "city",
    "departmentFree",
    "manager.id",
    "branch.id",
    "department.id",
    "budgetHolder.id",
    "location.id",
    "language.id",
    "personExtraFieldA.id",
    "personExtraFieldB.id",
    "optionalFields1.*",
    "optionalFields2.*",
)
"""The account keys a mapping may set: the person's write-body fields, lookups by name or
id, and the members of the two optional-field objects."""


class WriteError(Exception):
    """The account data cannot be written as it stands (a lookup that does not exist)."""


class Body:
    """A person write body, the flat data it writes, and warnings about what was cleared."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.written: dict[str, Any] = {}
        self.messages: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.fields)


def flatten(person: Mapping[str, Any], keys: Iterable[str] = ACCOUNT_KEYS) -> dict[str, Any]:
    """A TOPdesk person as flat account data, for the given keys."""
    data: dict[str, Any] = {}
    for key in keys:
        value: Any = person
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        data[key] = value
    return data


def build_body(
    items: Mapping[str, Any],
    client: TopdeskClient,
    settings: TopdeskSettings,
    *,
    creating: bool = False,
) -> Body:
    """The write body for ``items`` (flat account data), lookups resolved to ids.

    A branch is mandatory and must exist: an empty one fails a create, and leaves the branch
    as it is on an update. A department or budget holder that does not exist fails the
    action or is cleared, as the settings say. An empty name clears the field.
    """
    body = Body()
    for key, value in items.items():
        head, dot, tail = key.partition(".")
        if not dot:
            body.fields[key] = value
            body.written[key] = value
        elif tail == "name" and head in LOOKUPS:
            _lookup(body, head, key, value, client, settings, creating)
        elif tail == "id":
            body.fields[head] = {"id": value or None}
            body.written[key] = value or None
        else:
            _nest(body.fields, head, tail.split("."), value)
            body.written[key] = value
    return body


def _lookup(
    body: Body,
    head: str,
    key: str,
    value: Any,
    client: TopdeskClient,
    settings: TopdeskSettings,
    creating: bool,
) -> None:
    label = _LABELS[head]
    name = "" if value is None else str(value).strip()
    if not name:
        if head == "branch" and creating:
            raise WriteError("branch.name is empty, and a TOPdesk person must have a branch")
        if head == "branch":
            body.messages.append("branch.name is empty; the person keeps its branch")
            return
        body.fields[head] = {"id": None}
        body.written[key] = None
        return
    found = client.lookup(LOOKUPS[head], name)
    if found is not None:
        body.fields[head] = {"id": found}
        body.written[key] = value
        return
    policy = {
        "branch": "error",
        "department": settings.missing_department,
        "budgetHolder": settings.missing_budget_holder,
    }[head]
    if policy == "error":
        raise WriteError(f"{label} {name!r} does not exist in TOPdesk")
    body.fields[head] = {"id": None}
    body.written[key] = None
    body.messages.append(f"{label} {name!r} does not exist in TOPdesk; the field is cleared")


def _nest(target: dict[str, Any], head: str, rest: list[str], value: Any) -> None:
    node = target.setdefault(head, {})
    if not isinstance(node, dict):
        node = target[head] = {}
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value


def _same(current: Any, desired: Any) -> bool:
    if isinstance(desired, Mapping):
        if "id" in desired and len(desired) == 1:
            held = current.get("id") if isinstance(current, Mapping) else None
            return bool(held == desired["id"])
        return isinstance(current, Mapping) and all(
            _same(current.get(k), v) for k, v in desired.items()
        )
    if desired in (None, "") and current in (None, ""):
        return True
    return bool(current == desired)


def without_unchanged(body: Body, current: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``body`` whose value differs from the person as TOPdesk holds it."""
    return {k: v for k, v in body.fields.items() if not _same(current.get(k), v)}
