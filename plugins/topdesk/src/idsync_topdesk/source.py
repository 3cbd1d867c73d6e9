"""TOPdesk as a source: persons onto the person model, branches and departments as departments.

TOPdesk has no contracts; the plugin presents each person's current position as one contract:
department, job title, branch (as location), budget holder (as cost center) and manager,
starting at the hire date (``contract_dates``) or else the day the record was created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from idsync import Blocked, Department

__all__ = [
    "PERSON_FIELDS",
    "is_archived",
    "map_departments",
    "map_persons",
    "parse_date",
]

PERSON_FIELDS = [
    "id",
    "surName",
    "firstName",
    "firstInitials",
    "prefixes",
    "dynamicName",
    "email",
    "phoneNumber",
    "mobileNumber",
    "employeeNumber",
    "networkLoginName",
    "tasLoginName",
    "jobTitle",
    "branch",
    "department",
    "budgetHolder",
    "manager",
    "isManager",
    "archived",
    "creationDate",
]
"""The fields the v2 collection is asked for (``fields=``). Not ``gender``: the v2 collection
does not serve it (Tools4ever's TOPdesk import drops it for that reason), so a person read in
the v2 form has no gender; the classic form has it."""


def is_archived(row: Mapping[str, Any]) -> bool:
    """Whether a person row is archived: ``archived`` (v2) or ``status`` (classic)."""
    if isinstance(row.get("archived"), bool):
        return bool(row["archived"])
    return row.get("status") == "personArchived"


def parse_date(value: Any) -> dt.date | None:
    """The date of a TOPdesk timestamp (``2020-12-21T09:16:34.000+0000``) or date string."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _ref(lookup: Any) -> dict[str, Any] | None:
    """A TOPdesk lookup ``{id, name}`` as a :class:`~idsync.model.Ref` mapping."""
    if not isinstance(lookup, Mapping) or not lookup.get("id"):
        return None
    return {"external_id": str(lookup["id"]), "name": _text(lookup.get("name"))}


def _external_id(row: Mapping[str, Any], field: str) -> str | None:
    return _text(row.get(field))


def map_persons(
    rows: list[dict[str, Any]],
    *,
    external_id: str,
    contract_of: Callable[[str], Mapping[str, Any]] | None = None,
) -> Iterator[dict[str, Any] | Blocked]:
    """Translate TOPdesk person rows into person mappings (or :class:`Blocked` rows).

    ``external_id`` names the person field that identifies a person (``employeeNumber`` or
    ``id``). Several TOPdesk persons with one employee number are common after a rehire: the
    one that is not archived wins; several that are not archived are blocked together.
    ``contract_of`` reads a person's contract dates when given.
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    manager_ids: dict[str, str] = {}
    for row in rows:
        key = _external_id(row, external_id)
        person_id = str(row.get("id") or "")
        if key is None:
            yield Blocked(
                person=f"TOPdesk person {person_id or '(no id)'}",
                field=external_id,
                problem="empty, so the person cannot be identified",
            )
            continue
        by_key.setdefault(key, []).append(row)
        if person_id:
            manager_ids[person_id] = key
    for key, candidates in by_key.items():
        chosen, problem = _choose(candidates)
        if chosen is None:
            yield Blocked(person=key, field=external_id, problem=problem)
            continue
        yield from _person(chosen, key, manager_ids, contract_of)


def _choose(candidates: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    if len(candidates) == 1:
        return candidates[0], ""
    active = [row for row in candidates if not is_archived(row)]
    if len(active) > 1:
        ids = ", ".join(str(row.get("id")) for row in active)
        return None, f"shared by {len(active)} persons that are not archived ({ids})"
    if active:
        return active[0], ""
    return max(candidates, key=lambda row: str(row.get("creationDate") or "")), ""


def _person(
    row: dict[str, Any],
    key: str,
    manager_ids: Mapping[str, str],
    contract_of: Callable[[str], Mapping[str, Any]] | None,
) -> Iterator[dict[str, Any] | Blocked]:
    family = _text(row.get("surName"))
    if family is None:
        yield Blocked(person=key, field="surName", problem="empty")
        return
    person_id = str(row.get("id") or "")
    manager = None
    lookup = row.get("manager")
    if isinstance(lookup, Mapping) and lookup.get("id"):
        manager_key = manager_ids.get(str(lookup["id"]))
        if manager_key is not None:
            manager = {"external_id": manager_key, "display_name": _text(lookup.get("name"))}
    start = parse_date(row.get("creationDate"))
    end = None
    if contract_of is not None and person_id:
        dates = contract_of(person_id)
        start = parse_date(dates.get("hireDate")) or start
        end = parse_date(dates.get("employmentTerminationDate"))
    contracts = []
    if start is not None:
        if end is not None and end < start:
            end = start
        job = _text(row.get("jobTitle"))
        contracts.append(
            {
                "external_id": person_id or key,
                "start": start,
                "end": end,
                "department": _ref(row.get("department")),
                "title": {"name": job} if job else None,
                "cost_center": _ref(row.get("budgetHolder")),
                "location": _ref(row.get("branch")),
                "manager": manager,
            }
        )
    yield {
        "external_id": key,
        "display_name": _text(row.get("dynamicName")) or "",
        "name": {
            "given": _text(row.get("firstName")),
            "initials": _text(row.get("firstInitials")),
            "family": family,
            "family_prefix": _text(row.get("prefixes")),
        },
        "contact": {
            "email": _text(row.get("email")),
            "phone": _text(row.get("phoneNumber")),
            "mobile": _text(row.get("mobileNumber")),
        },
        "manager": manager,
        "contracts": contracts,
        "inactive": is_archived(row),
        "extra": {
            "id": person_id,
            "tasLoginName": _text(row.get("tasLoginName")),
            "networkLoginName": _text(row.get("networkLoginName")),
            "isManager": bool(row.get("isManager")),
            "gender": _text(row.get("gender")),
        },
    }


def map_departments(
    branches: list[dict[str, Any]], departments: list[dict[str, Any]]
) -> Iterator[Department]:
    """Branches and departments, both as :class:`Department` (flat: TOPdesk nests neither).

    A branch keeps its ``clientReferenceNumber`` as code; a person's branch is the location
    of their contract and its department the department, so both join by TOPdesk id.
    """
    for branch in branches:
        name = _text(branch.get("name"))
        if branch.get("id") and name:
            yield Department(
                external_id=str(branch["id"]),
                name=name,
                code=_text(branch.get("clientReferenceNumber")),
            )
    for department in departments:
        name = _text(department.get("name"))
        if department.get("id") and name:
            yield Department(external_id=str(department["id"]), name=name)
