"""The simulator's data: persons and the lookup lists, with TOPdesk's rules for changing them.

Every rule the API enforces lives here (mandatory branch, lookups by id, managers must be
marked ``isManager``, archived persons cannot be changed, archiving needs a reason), so the
HTTP layer only translates. Operations raise :class:`SimError` with the HTTP status and the
message TOPdesk would answer with.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from idsync_topdesk.simulator._fiql import FiqlError, matches, parse

__all__ = ["LOOKUP_TABLES", "SimError", "Store"]

LOOKUP_TABLES = ("branches", "departments", "budgetholders", "archiving-reasons", "countries")

_TEXT = (
    "surName",
    "firstName",
    "firstInitials",
    "prefixes",
    "birthName",
    "title",
    "phoneNumber",
    "mobileNumber",
    "fax",
    "email",
    "jobTitle",
    "employeeNumber",
    "networkLoginName",
    "mainframeLoginName",
    "clientReferenceNumber",
    "city",
    "tasLoginName",
    "attentionComment",
)
_FLAGS = (
    "showBranch",
    "showBudgetholder",
    "showDepartment",
    "showSubsidiaries",
    "showAllBranches",
    "authorizeAll",
    "authorizeDepartment",
    "authorizeBudgetHolder",
    "authorizeBranch",
    "authorizeSubsidiaryBranches",
    "isManager",
    "hasAttention",
)
_CHECKED_LOOKUPS = {
    "branch": "branches",
    "department": "departments",
    "budgetHolder": "budgetholders",
}
_FREE_LOOKUPS = ("language", "location", "attention", "personExtraFieldA", "personExtraFieldB")
_OPTIONAL = {"boolean1", "number1", "date1", "text1", "memo1", "searchlist1"}
_GENDERS = ("MALE", "FEMALE", "UNDEFINED")
_READ_ONLY = (
    "id",
    "status",
    "dynamicName",
    "creator",
    "creationDate",
    "modifier",
    "modificationDate",
)
_WRITABLE = {
    *_TEXT,
    *_FLAGS,
    *_CHECKED_LOOKUPS,
    *_FREE_LOOKUPS,
    "manager",
    "gender",
    "departmentFree",
    "optionalFields1",
    "optionalFields2",
}
PERSON_KEYS = frozenset({*_WRITABLE, *_READ_ONLY, "archived"})


class SimError(Exception):
    """An API error: HTTP ``status`` and TOPdesk's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p)


class Store:
    """In-memory TOPdesk: persons, contracts and lookup lists, guarded by one lock."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.persons: dict[str, dict[str, Any]] = {}
        self.contracts: dict[str, dict[str, Any]] = {}
        self.tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in LOOKUP_TABLES}
        self.operator = {"id": self.new_id(), "name": "API, idsync"}

    def new_id(self) -> str:
        """A fresh, seeded UUID."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- lookups ---------------------------------------------------------------------

    def entries(self, table: str) -> list[dict[str, Any]]:
        """A lookup list as the API returns it."""
        with self.lock:
            return [dict(item) for item in self.tables[table].values()]

    def find(self, table: str, name: str) -> dict[str, Any] | None:
        """The entry of ``table`` named ``name`` (case-insensitive)."""
        key = name.strip().casefold()
        with self.lock:
            return next(
                (e for e in self.tables[table].values() if str(e["name"]).casefold() == key), None
            )

    def add_entry(self, table: str, name: str, **extra: Any) -> dict[str, Any]:
        """Add a lookup entry (seeding); names are unique per list."""
        name = name.strip()
        if not name:
            raise SimError(400, "The field 'name' is mandatory.")
        with self.lock:
            if self.find(table, name) is not None:
                raise SimError(400, f"An entry named '{name}' already exists.")
            entry: dict[str, Any] = {"id": self.new_id(), "name": name}
            if table in ("departments", "budgetholders"):
                entry["externalLinks"] = []
            entry.update(extra)
            self.tables[table][entry["id"]] = entry
            return dict(entry)

    def add_branch(
        self, name: str, *, country: str = "Nederland", code: str = ""
    ) -> dict[str, Any]:
        """Add a branch (seeding), creating its country when needed."""
        with self.lock:
            found = self.find("countries", country)
            country_entry = found or self.add_entry("countries", country)
            return self.add_entry(
                "branches", name, **self._branch_fields(country_entry, "independentBranch", code)
            )

    def _branch_fields(
        self, country: Mapping[str, Any], branch_type: str, code: str
    ) -> dict[str, Any]:
        return {
            "clientReferenceNumber": code,
            "timeZone": "Europe/Amsterdam",
            "extraA": None,
            "extraB": None,
            "branchType": branch_type,
            "postalAddress": {"country": {"id": country["id"], "name": country["name"]}},
        }

    def create_entry(self, table: str, body: Any) -> dict[str, Any]:
        """``POST /branches|departments|budgetholders``."""
        if not isinstance(body, Mapping):
            raise SimError(400, "The request body must be a JSON object.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SimError(400, "The field 'name' is mandatory.")
        if table != "branches":
            unknown = set(body) - {"name", "externalLinks"}
            if unknown:
                raise SimError(400, f"Unrecognized field '{sorted(unknown)[0]}'.")
            return self.add_entry(table, name)
        unknown = set(body) - {"name", "postalAddress", "branchType", "clientReferenceNumber"}
        if unknown:
            raise SimError(400, f"Unrecognized field '{sorted(unknown)[0]}'.")
        branch_type = body.get("branchType")
        if branch_type not in ("independentBranch", "headBranch", "hasAHeadBranch"):
            raise SimError(
                400, "branchType must be independentBranch, headBranch or hasAHeadBranch."
            )
        address = body.get("postalAddress")
        country_id = None
        if isinstance(address, Mapping) and isinstance(address.get("country"), Mapping):
            country_id = address["country"].get("id")
        with self.lock:
            country = self.tables["countries"].get(str(country_id))
            if country is None:
                raise SimError(400, "postalAddress.country.id is mandatory and must exist.")
            code = str(body.get("clientReferenceNumber") or "")
            return self.add_entry(
                "branches", name, **self._branch_fields(country, str(branch_type), code)
            )

    # --- persons: reading ------------------------------------------------------------

    def view(self, person: Mapping[str, Any]) -> dict[str, Any]:
        """A person as ``GET /persons/id/{id}`` returns it (lookups as ``{id, name}``)."""
        out = {k: v for k, v in person.items() if not k.startswith("_")}
        out["dynamicName"] = _join(person["firstName"], person["prefixes"], person["surName"])
        for field, table in _CHECKED_LOOKUPS.items():
            out[field] = self._lookup_view(table, person[field], full=field == "branch")
        manager = self.persons.get(person["manager"] or "")
        out["manager"] = (
            {
                "id": manager["id"],
                "name": _join(manager["firstName"], manager["prefixes"], manager["surName"]),
            }
            if manager
            else None
        )
        return out

    def _lookup_view(
        self, table: str, entry_id: str | None, *, full: bool
    ) -> dict[str, Any] | None:
        entry = self.tables[table].get(entry_id or "")
        if entry is None:
            return None
        if full:
            keys = ("id", "name", "clientReferenceNumber", "timeZone", "extraA", "extraB")
            return {k: entry.get(k) for k in keys}
        return {"id": entry["id"], "name": entry["name"]}

    def person(self, person_id: str) -> dict[str, Any]:
        """``GET /persons/id/{id}``."""
        with self.lock:
            found = self.persons.get(person_id)
            if found is None:
                raise SimError(404, f"No person found with id '{person_id}'.")
            return self.view(found)

    def query(self, query: str | None) -> list[dict[str, Any]]:
        """The persons matching the FIQL ``query``, in creation order (classic view + archived)."""
        try:
            groups = parse(query) if query else None
        except FiqlError as exc:
            raise SimError(400, f"Invalid query: {exc}.") from exc
        for group in groups or []:
            for clause in group:
                if clause.field.split(".")[0] not in PERSON_KEYS:
                    raise SimError(400, f"Invalid query: unknown field '{clause.field}'.")
        with self.lock:
            rows = []
            for person in self.persons.values():
                row = self.view(person)
                row["archived"] = person["status"] == "personArchived"
                if groups is None or matches(row, groups):
                    rows.append(row)
            return rows

    def contract(self, person_id: str) -> dict[str, Any]:
        """``GET /persons/id/{id}/contract``."""
        with self.lock:
            if person_id not in self.persons:
                raise SimError(404, f"No person found with id '{person_id}'.")
            empty = {
                "hireDate": None,
                "employmentTerminationDate": None,
                "contractStartDate": None,
                "contractExpiryDate": None,
            }
            return {**empty, **self.contracts.get(person_id, {})}

    # --- persons: writing ------------------------------------------------------------

    def _blank(self) -> dict[str, Any]:
        stamp = _now()
        person: dict[str, Any] = {"id": self.new_id(), "status": "person"}
        person.update(dict.fromkeys(_TEXT, ""))
        person.update(dict.fromkeys(_FLAGS, False))
        person.update(dict.fromkeys(_CHECKED_LOOKUPS))
        person.update(dict.fromkeys(_FREE_LOOKUPS))
        person.update(
            {
                "manager": None,
                "gender": "UNDEFINED",
                "departmentFree": None,
                "showBranch": True,
                "optionalFields1": self._optional(),
                "optionalFields2": self._optional(),
                "creator": dict(self.operator),
                "creationDate": stamp,
                "modifier": dict(self.operator),
                "modificationDate": stamp,
            }
        )
        return person

    @staticmethod
    def _optional() -> dict[str, Any]:
        return {
            "boolean1": False,
            "number1": 0.0,
            "date1": None,
            "text1": "",
            "memo1": None,
            "searchlist1": None,
        }

    def create_person(self, body: Any) -> dict[str, Any]:
        """``POST /persons``: surName and an existing branch are mandatory."""
        if not isinstance(body, Mapping):
            raise SimError(400, "The request body must be a JSON object.")
        with self.lock:
            person = self._blank()
            self._apply(person, body)
            if not person["surName"]:
                raise SimError(400, "The field 'surName' is mandatory.")
            if not person["branch"]:
                raise SimError(400, "The field 'branch' is mandatory.")
            self.persons[person["id"]] = person
            return self.view(person)

    def patch_person(self, person_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /persons/id/{id}``: archived persons cannot be changed."""
        if not isinstance(body, Mapping):
            raise SimError(400, "The request body must be a JSON object.")
        with self.lock:
            person = self._existing(person_id)
            if person["status"] == "personArchived":
                raise SimError(400, "An archived person cannot be changed; unarchive it first.")
            changed = dict(person)
            changed["optionalFields1"] = dict(person["optionalFields1"])
            changed["optionalFields2"] = dict(person["optionalFields2"])
            self._apply(changed, body, own_id=person_id)
            if not changed["surName"]:
                raise SimError(400, "The field 'surName' is mandatory.")
            if not changed["branch"]:
                raise SimError(400, "The field 'branch' is mandatory.")
            changed["modificationDate"] = _now()
            person.update(changed)
            return self.view(person)

    def archive(self, person_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /persons/id/{id}/archive`` with ``{"id": archivingReasonId}``."""
        if isinstance(body, Mapping):
            unknown = set(body) - {"id"}
            if unknown:
                raise SimError(400, f"Unrecognized field '{sorted(unknown)[0]}'.")
            if body.get("id") is not None and not isinstance(body["id"], str):
                raise SimError(400, "The field 'id' must be text.")
        elif body is not None:
            raise SimError(400, "The request body must be a JSON object.")
        reason_id = body.get("id") if isinstance(body, Mapping) else None
        with self.lock:
            person = self._existing(person_id)
            if not reason_id:
                raise SimError(400, "An archiving reason is mandatory.")
            if str(reason_id) not in self.tables["archiving-reasons"]:
                raise SimError(400, f"No archiving reason found with id '{reason_id}'.")
            if person["status"] == "personArchived":
                raise SimError(400, "The person is archived already.")
            person["status"] = "personArchived"
            person["_reason"] = str(reason_id)
            person["modificationDate"] = _now()
            return self.view(person)

    def unarchive(self, person_id: str) -> dict[str, Any]:
        """``PATCH /persons/id/{id}/unarchive``."""
        with self.lock:
            person = self._existing(person_id)
            if person["status"] != "personArchived":
                raise SimError(400, "The person is not archived.")
            person["status"] = "person"
            person.pop("_reason", None)
            person["modificationDate"] = _now()
            return self.view(person)

    def _existing(self, person_id: str) -> dict[str, Any]:
        person = self.persons.get(person_id)
        if person is None:
            raise SimError(404, f"No person found with id '{person_id}'.")
        return person

    def _apply(
        self, person: dict[str, Any], body: Mapping[str, Any], own_id: str | None = None
    ) -> None:
        for key, value in body.items():
            if key in _READ_ONLY:
                raise SimError(400, f"The field '{key}' cannot be changed.")
            if key not in _WRITABLE:
                raise SimError(400, f"Unrecognized field '{key}'.")
            if key in _TEXT:
                if value is not None and not isinstance(value, str):
                    raise SimError(400, f"The field '{key}' must be text.")
                person[key] = value or ""
            elif key in _FLAGS:
                if not isinstance(value, bool):
                    raise SimError(400, f"The field '{key}' must be true or false.")
                person[key] = value
            elif key == "gender":
                if value not in _GENDERS:
                    raise SimError(400, "gender must be MALE, FEMALE or UNDEFINED.")
                person[key] = value
            elif key in _CHECKED_LOOKUPS:
                person[key] = self._lookup_id(key, _CHECKED_LOOKUPS[key], value)
            elif key == "manager":
                person[key] = self._manager_id(value, own_id)
            elif key in ("optionalFields1", "optionalFields2"):
                person[key] = {**person[key], **_optional_members(key, value)}
            elif key == "departmentFree":
                if value is not None and not isinstance(value, str):
                    raise SimError(400, f"The field '{key}' must be text.")
                person[key] = value
            elif key in _FREE_LOOKUPS:
                person[key] = (
                    None if _id_of(key, value) is None else {"id": _id_of(key, value), "name": ""}
                )
            else:
                person[key] = value
        login = person["tasLoginName"]
        if login:
            for other in self.persons.values():
                if (
                    other["id"] != person["id"]
                    and other["tasLoginName"].casefold() == login.casefold()
                ):
                    raise SimError(400, f"The tasLoginName '{login}' is in use by another person.")

    def _lookup_id(self, field: str, table: str, value: Any) -> str | None:
        entry_id = _id_of(field, value)
        if entry_id is None:
            return None
        if entry_id not in self.tables[table]:
            raise SimError(400, f"No {field} found with id '{entry_id}'.")
        return entry_id

    def _manager_id(self, value: Any, own_id: str | None) -> str | None:
        manager_id = _id_of("manager", value)
        if manager_id is None:
            return None
        manager = self.persons.get(manager_id)
        if manager is None:
            raise SimError(400, f"No person found with id '{manager_id}'.")
        if manager_id == own_id:
            raise SimError(400, "A person cannot be their own manager.")
        if not manager["isManager"]:
            raise SimError(400, f"The person '{manager_id}' is not a manager (isManager is false).")
        return manager_id

    # --- seeding ---------------------------------------------------------------------

    def seed_person(
        self,
        *,
        branch: str,
        department: str | None = None,
        budget_holder: str | None = None,
        manager: str | None = None,
        archived: bool = False,
        contract: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a person directly (seeding and tests): lookups by name, manager by id.

        Skips the API's rules except that names must exist; an archived person gets the
        first archiving reason.
        """
        with self.lock:
            person = self._blank()
            refs = {"branch": ("branches", branch), "department": ("departments", department)}
            refs["budgetHolder"] = ("budgetholders", budget_holder)
            for field, (table, name) in refs.items():
                if name is not None:
                    entry = self.find(table, name)
                    if entry is None:
                        raise SimError(400, f"No {field} named '{name}'.")
                    person[field] = entry["id"]
            unknown = set(fields) - _WRITABLE
            if unknown:
                raise SimError(400, f"Unrecognized field '{sorted(unknown)[0]}'.")
            person.update(fields)
            person["manager"] = manager
            if archived:
                person["status"] = "personArchived"
                person["_reason"] = next(iter(self.tables["archiving-reasons"]), None)
            self.persons[person["id"]] = person
            if contract:
                self.contracts[person["id"]] = dict(contract)
            return self.view(person)

    def raw(self, person_id: str) -> dict[str, Any]:
        """The stored person (ids for lookups, ``_reason`` of an archived one)."""
        with self.lock:
            return dict(self._existing(person_id))

    def all_persons(self) -> Iterable[dict[str, Any]]:
        """Every person, as the API shows them."""
        with self.lock:
            return [self.view(p) for p in self.persons.values()]


def _id_of(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"id", "name"}:
        raise SimError(400, f"The field '{field}' must be an object {{\"id\": …}}.")
    if "id" not in value:
        raise SimError(400, f"The field '{field}' must be given by id.")
    entry_id = value["id"]
    if entry_id is not None and not isinstance(entry_id, str):
        raise SimError(400, f"The field '{field}.id' must be text.")
    return None if entry_id in (None, "") else entry_id


_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "boolean1": (bool,),
    "number1": (int, float),
    "date1": (str, type(None)),
    "text1": (str, type(None)),
    "memo1": (str, type(None)),
}


def _optional_members(field: str, value: Any) -> dict[str, Any]:
    """The members of ``optionalFields1|2`` a write sets, each of its own type."""
    if not isinstance(value, Mapping):
        raise SimError(400, f"The field '{field}' must be an object.")
    unknown = set(value) - _OPTIONAL
    if unknown:
        raise SimError(400, f"Unrecognized field '{field}.{sorted(unknown)[0]}'.")
    members = dict(value)
    for name, member in members.items():
        if name == "searchlist1":
            members[name] = None if _id_of(f"{field}.{name}", member) is None else member
            continue
        wanted = _OPTIONAL_TYPES[name]
        if not isinstance(member, wanted) or (bool not in wanted and isinstance(member, bool)):
            raise SimError(400, f"The field '{field}.{name}' has the wrong type.")
    return members
