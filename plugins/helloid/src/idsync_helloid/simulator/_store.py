"""The simulated tenant's data: users, groups, products and product assignments, in memory.

Every operation validates like the real API and raises :class:`SimError` with the status and
the ``{"message": ...}`` HelloID would answer. Thread-safe, so tests may look inside while the
server runs.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from typing import Any

__all__ = [
    "LEGACY_MEMBERSHIP_FIELDS",
    "MEMBERSHIP_FIELDS",
    "HelloIDStore",
    "SimError",
    "plain_body",
]

USER_FIELDS = (
    "userGUID",
    "userName",
    "firstName",
    "lastName",
    "contactEmail",
    "isEnabled",
    "isLocked",
    "isDeleted",
    "mustChangePassword",
    "source",
    "immutableId",
    "managedByUserGUID",
    "userAttributes",
)
_TEXT = (
    "userName",
    "firstName",
    "lastName",
    "contactEmail",
    "source",
    "immutableId",
    "managedByUserGUID",
)
_FLAGS = ("isEnabled", "isLocked", "mustChangePassword", "isDeleted", "isSoftDeleted")
_CREATE = frozenset(
    {*_TEXT, "isEnabled", "isLocked", "mustChangePassword", "userAttributes", "password"}
)
_UPDATE = _CREATE | {"userGUID", "isDeleted", "isSoftDeleted", "IdentifierObject"}
_CANONICAL = {name.casefold(): name for name in _UPDATE}


class SimError(Exception):
    """An API error: HTTP status and HelloID's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _canonical(body: Any, allowed: frozenset[str]) -> dict[str, Any]:
    """The body with HelloID's field names (matched without case, as ASP.NET binds them)."""
    if not isinstance(body, dict):
        raise SimError(400, "The request body must be a JSON object")
    fields: dict[str, Any] = {}
    for key, value in body.items():
        name = _CANONICAL.get(str(key).casefold())
        if name is None or name not in allowed:
            raise SimError(400, f"Unknown field '{key}'")
        fields[name] = value
    for name in _TEXT:
        if name in fields and fields[name] is not None and not isinstance(fields[name], str):
            raise SimError(400, f"Field '{name}' must be a string")
    for name in _FLAGS:
        if name in fields and not isinstance(fields[name], bool):
            raise SimError(400, f"Field '{name}' must be true or false")
    attributes = fields.get("userAttributes")
    plain = (str, int, float, bool, type(None))
    if attributes is not None and (
        not isinstance(attributes, dict)
        or not all(isinstance(v, plain) for v in attributes.values())
    ):
        raise SimError(400, "Field 'userAttributes' must be an object of plain values")
    return fields


def plain_body(body: Any, fields: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    """A body of known fields, each of its type (for the smaller write endpoints)."""
    if not isinstance(body, dict):
        raise SimError(400, "The request body must be a JSON object")
    for key, value in body.items():
        if key not in fields:
            raise SimError(400, f"Unknown field '{key}'")
        wanted = fields[key]
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            kind = "true or false" if bool in wanted else "a string"
            if list in wanted:
                kind = "a list of strings"
            raise SimError(400, f"Field '{key}' must be {kind}")
    return body


_TEXT_OR_NULL = (str, type(None))
_GROUP_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "isEnabled": (bool, str),
    "isDefault": (bool, str),
    "userGuids": (list,),
    "userNames": (list,),
    "applicationNames": (list,),
    "applicationGUIDs": (list,),
    "managedByUserGuid": _TEXT_OR_NULL,
}
MEMBERSHIP_FIELDS: dict[str, tuple[type, ...]] = {"groupGuid": (str,)}
LEGACY_MEMBERSHIP_FIELDS: dict[str, tuple[type, ...]] = {"userGUID": (str,)}
_REQUEST_FIELDS: dict[str, tuple[type, ...]] = {
    "requestedProductGUID": (str,),
    "requestedByUserGUID": _TEXT_OR_NULL,
    "requestedForUserGUID": (str,),
    "comment": _TEXT_OR_NULL,
}
_UNASSIGN_FIELDS: dict[str, tuple[type, ...]] = {
    "productGUID": (str,),
    "userGUID": (str,),
    "executeActions": (bool,),
}


def _check_password(password: Any) -> None:
    if not isinstance(password, str):
        raise SimError(400, "Field 'password' must be a string")
    classes = sum(
        any(test(ch) for ch in password)
        for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    )
    if len(password) < 8 or classes < 3:
        raise SimError(400, "The password does not meet the complexity requirements")


def _page(items: list[dict[str, Any]], skip: int, take: int | None) -> list[dict[str, Any]]:
    end = None if take is None else skip + take
    return items[skip:end]


class HelloIDStore:
    """One simulated HelloID tenant."""

    def __init__(self, seed: int | None = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self.users: dict[str, dict[str, Any]] = {}
        self._names: dict[str, str] = {}
        """userGUID by folded userName, of the users that are not deleted."""
        self._deleted_names: dict[str, str] = {}
        """userGUID by folded userName of the soft-deleted users (the last one deleted)."""
        self.passwords: dict[str, str] = {}
        """Initial passwords by userGUID; never answered by the API, kept to prove one was set."""
        self.groups: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.assignments: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        """Every self-service product request, as received."""

    def new_guid(self) -> str:
        """A fresh GUID (reproducible for a seeded store)."""
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    # --- users ---------------------------------------------------------------------------

    def _user(self, ident: str, *, deleted: bool = False) -> dict[str, Any]:
        """The user with this GUID or user name: one that is not deleted, or with ``deleted``
        also a soft-deleted one (a live user of that name comes first)."""
        folded = ident.casefold()
        user = self.users.get(folded) or self.users.get(self._names.get(folded, ""))
        if user is None and deleted:
            user = self.users.get(self._deleted_names.get(folded, ""))
        if user is None or (user["isDeleted"] and not deleted):
            raise SimError(404, "User not found")
        return user

    def _name_taken(self, name: str, other_than: str | None = None) -> bool:
        return self._names.get(name.casefold()) not in (None, other_than)

    def _check_manager(self, manager: Any, user: str | None = None) -> None:
        if manager is None:
            return
        if manager.casefold() == (user or "").casefold():
            raise SimError(400, "A user cannot manage themselves")
        found = self.users.get(manager.casefold())
        if found is None or found["isDeleted"]:
            raise SimError(400, f"Manager with userGUID '{manager}' not found")

    def get_user(self, ident: str) -> dict[str, Any]:
        """``GET /users/{userGUID or userName}``, soft-deleted users too (``isDeleted: true``).

        HelloID's own connector reads ``IsDeleted`` from this answer to decide whether to
        restore the user it found by name.
        """
        with self._lock:
            return copy.deepcopy(self._user(ident, deleted=True))

    def list_users(
        self, *, deleted: bool = False, skip: int = 0, take: int | None = None
    ) -> list[dict[str, Any]]:
        """``GET /users`` (or the soft-deleted ones), one page."""
        with self._lock:
            users = [u for u in self.users.values() if u["isDeleted"] == deleted]
            return copy.deepcopy(_page(users, skip, take))

    def create_user(self, body: Any) -> dict[str, Any]:
        """``POST /users``."""
        fields = _canonical(body, _CREATE)
        name = fields.get("userName")
        if not isinstance(name, str) or not name.strip():
            raise SimError(400, "Field 'userName' is required")
        with self._lock:
            if self._name_taken(name):
                raise SimError(409, f"A user with userName '{name}' already exists")
            self._check_manager(fields.get("managedByUserGUID"))
            if "password" in fields:
                _check_password(fields["password"])
            guid = self.new_guid()
            user: dict[str, Any] = {
                "userGUID": guid,
                "userName": name,
                "firstName": fields.get("firstName"),
                "lastName": fields.get("lastName"),
                "contactEmail": fields.get("contactEmail"),
                "isEnabled": fields.get("isEnabled", True),
                "isLocked": fields.get("isLocked", False),
                "isDeleted": False,
                "mustChangePassword": fields.get("mustChangePassword", False),
                "source": fields.get("source") or "Local",
                "immutableId": fields.get("immutableId"),
                "managedByUserGUID": fields.get("managedByUserGUID"),
                "userAttributes": dict(fields.get("userAttributes") or {}),
            }
            self.users[guid] = user
            self._names[name.casefold()] = guid
            if "password" in fields:
                self.passwords[guid] = fields["password"]
            return copy.deepcopy(user)

    def update_user(self, ident: str, body: Any) -> dict[str, Any]:
        """``PUT /users/{id}``: the body replaces the whole user.

        A field the body leaves out is reset (text to null, ``userAttributes`` to empty, flags
        to false), which is why HelloID's connector sends the current user with its changes.
        ``userName`` is required; a rename goes only through ``IdentifierObject``;
        ``isDeleted`` is read-only; ``isSoftDeleted: false`` restores a soft-deleted user.
        """
        fields = _canonical(body, _UPDATE)
        with self._lock:
            user = self._user(ident, deleted=True)
            guid = user["userGUID"]
            if "userGUID" in fields and str(fields["userGUID"]).casefold() != guid:
                raise SimError(400, "Field 'userGUID' does not match the user in the path")
            if fields.get("isDeleted") is True and not user["isDeleted"]:
                raise SimError(400, "Use DELETE to delete a user")
            if "isDeleted" in fields and fields["isDeleted"] != user["isDeleted"]:
                raise SimError(
                    400, "Field 'isDeleted' is read-only; restore a user with isSoftDeleted: false"
                )
            soft = fields.pop("isSoftDeleted", None)
            if soft is True and not user["isDeleted"]:
                raise SimError(400, "Use DELETE to delete a user")
            restoring = soft is False and user["isDeleted"]
            rename = fields.pop("IdentifierObject", None)
            if rename is not None:
                if not isinstance(rename, dict) or not isinstance(rename.get("userName"), str):
                    raise SimError(400, "IdentifierObject must carry a userName")
                rename = rename["userName"].strip()
                if not rename:
                    raise SimError(400, "IdentifierObject.userName must not be empty")
            given = fields.get("userName")
            if not isinstance(given, str) or not given.strip():
                raise SimError(400, "Field 'userName' is required")
            if given != user["userName"] and given != rename:
                raise SimError(
                    400, "userName cannot be changed directly; send it in IdentifierObject"
                )
            name = rename if rename is not None else user["userName"]
            live = not user["isDeleted"] or restoring
            if live and self._name_taken(name, other_than=guid):
                raise SimError(409, f"A user with userName '{name}' already exists")
            self._check_manager(fields.get("managedByUserGUID"), guid)
            if "password" in fields:
                _check_password(fields["password"])
                self.passwords[guid] = fields.pop("password")
            old_name = user["userName"].casefold()
            if user["isDeleted"]:
                if self._deleted_names.get(old_name) == guid:
                    del self._deleted_names[old_name]
            else:
                del self._names[old_name]
            user.clear()
            user.update(
                {
                    "userGUID": guid,
                    "userName": name,
                    "firstName": fields.get("firstName"),
                    "lastName": fields.get("lastName"),
                    "contactEmail": fields.get("contactEmail"),
                    "isEnabled": fields.get("isEnabled", False),
                    "isLocked": fields.get("isLocked", False),
                    "isDeleted": not live,
                    "mustChangePassword": fields.get("mustChangePassword", False),
                    "source": fields.get("source") or "Local",
                    "immutableId": fields.get("immutableId"),
                    "managedByUserGUID": fields.get("managedByUserGUID"),
                    "userAttributes": dict(fields.get("userAttributes") or {}),
                }
            )
            (self._names if live else self._deleted_names)[name.casefold()] = guid
            return copy.deepcopy(user)

    def delete_user(self, ident: str) -> None:
        """``DELETE /users/{id}``: the user becomes soft-deleted (and disabled)."""
        with self._lock:
            user = self._user(ident)
            user["isDeleted"] = True
            user["isEnabled"] = False
            del self._names[user["userName"].casefold()]
            self._deleted_names[user["userName"].casefold()] = user["userGUID"]

    # --- groups --------------------------------------------------------------------------

    def _group(self, ident: str) -> dict[str, Any]:
        folded = ident.casefold()
        group = self.groups.get(folded) or next(
            (g for g in self.groups.values() if g["name"].casefold() == folded), None
        )
        if group is None:
            raise SimError(404, "Group not found")
        return group

    @staticmethod
    def _summary(group: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in group.items() if k != "users"}

    def list_groups(self, *, skip: int = 0, take: int | None = None) -> list[dict[str, Any]]:
        """``GET /groups``, one page (without members)."""
        with self._lock:
            return [self._summary(g) for g in _page(list(self.groups.values()), skip, take)]

    def get_group(self, ident: str) -> dict[str, Any]:
        """``GET /groups/{groupGuid or name}`` with its ``users``."""
        with self._lock:
            return copy.deepcopy(self._group(ident))

    def create_group(self, body: Any) -> dict[str, Any]:
        """``POST /groups``."""
        body = plain_body(body, _GROUP_FIELDS)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SimError(400, "Field 'name' is required")

        def flag(key: str, default: bool) -> bool:
            value = body.get(key, default)
            if isinstance(value, str) and value.casefold() in ("true", "false"):
                return value.casefold() == "true"
            if not isinstance(value, bool):
                raise SimError(400, f"Field '{key}' must be true or false")
            return value

        with self._lock:
            if any(g["name"].casefold() == name.casefold() for g in self.groups.values()):
                raise SimError(409, f"A group with name '{name}' already exists")
            members = [self._user(str(u))["userGUID"] for u in body.get("userGuids") or []]
            members += [self._user(str(u))["userGUID"] for u in body.get("userNames") or []]
            guid = self.new_guid()
            group = {
                "groupGuid": guid,
                "name": name.strip(),
                "isEnabled": flag("isEnabled", True),
                "isDefault": flag("isDefault", False),
                "managedByUserGuid": body.get("managedByUserGuid"),
                "users": list(dict.fromkeys(members)),
            }
            self.groups[guid] = group
            return copy.deepcopy(group)

    def add_member(self, user: str, group: str) -> None:
        """Membership: idempotent, like adding twice in the HelloID portal."""
        with self._lock:
            guid = self._user(user)["userGUID"]
            members = self._group(group)["users"]
            if guid not in members:
                members.append(guid)

    def remove_member(self, user: str, group: str) -> None:
        """Remove a membership; 404 when the user is not a member."""
        with self._lock:
            guid = self._user(user)["userGUID"]
            members = self._group(group)["users"]
            if guid not in members:
                raise SimError(404, "Membership not found")
            members.remove(guid)

    # --- products ------------------------------------------------------------------------

    def add_product(
        self, name: str, code: str = "", description: str = "", *, enabled: bool = True
    ) -> dict[str, Any]:
        """Define a self-service product (products are designed in the portal, not the API)."""
        with self._lock:
            product: dict[str, Any] = {
                "productId": self.new_guid(),
                "name": name,
                "code": code,
                "description": description,
                "isEnabled": enabled,
            }
            self.products[product["productId"]] = product
            return copy.deepcopy(product)

    def _product(self, ident: Any) -> dict[str, Any]:
        product = self.products.get(str(ident).casefold())
        if product is None:
            raise SimError(404, "Product not found")
        return product

    def list_products(self, *, skip: int = 0, take: int | None = None) -> list[dict[str, Any]]:
        """``GET /products``, one page."""
        with self._lock:
            return copy.deepcopy(_page(list(self.products.values()), skip, take))

    def list_assignments(
        self, *, user: str | None = None, skip: int = 0, take: int | None = None
    ) -> list[dict[str, Any]]:
        """``GET /product-assignment`` (all, or ``/by-user/{id}``), one page."""
        with self._lock:
            items = self.assignments
            if user is not None:
                guid = self._user(user)["userGUID"]
                items = [a for a in items if a["userGuid"] == guid]
            return copy.deepcopy(_page(items, skip, take))

    def assign(self, product: str, user: str) -> dict[str, Any]:
        """Record an assignment (what an approved request leaves behind)."""
        with self._lock:
            found, holder = self._product(product), self._user(user)
            assignment = {
                "productAssignmentGuid": self.new_guid(),
                "productGuid": found["productId"],
                "productName": found["name"],
                "userGuid": holder["userGUID"],
                "userName": holder["userName"],
            }
            self.assignments.append(assignment)
            return copy.deepcopy(assignment)

    def request_product(self, body: Any) -> dict[str, Any]:
        """``POST /selfservice/products/request``: every request assigns (again)."""
        body = plain_body(body, _REQUEST_FIELDS)
        for key in ("requestedProductGUID", "requestedForUserGUID"):
            if not isinstance(body.get(key), str):
                raise SimError(400, f"Field '{key}' is required")
        with self._lock:
            product = self._product(body["requestedProductGUID"])
            if not product["isEnabled"]:
                raise SimError(400, f"Product '{product['name']}' is disabled")
            self._user(body.get("requestedByUserGUID") or body["requestedForUserGUID"])
            assignment = self.assign(product["productId"], body["requestedForUserGUID"])
            self.requests.append(copy.deepcopy(body))
            return {
                "requestGuid": self.new_guid(),
                "productGuid": product["productId"],
                "requestedForUserGuid": assignment["userGuid"],
                "status": "Approved",
            }

    def unassign(self, body: Any) -> dict[str, Any]:
        """``POST /product-assignment/unassign/by-product``: every assignment of the product."""
        body = plain_body(body, _UNASSIGN_FIELDS)
        for key in ("productGUID", "userGUID"):
            if not isinstance(body.get(key), str):
                raise SimError(400, f"Field '{key}' is required")
        with self._lock:
            product = self._product(body["productGUID"])
            guid = self._user(body["userGUID"])["userGUID"]
            keep = [
                a
                for a in self.assignments
                if not (a["productGuid"] == product["productId"] and a["userGuid"] == guid)
            ]
            removed = len(self.assignments) - len(keep)
            self.assignments[:] = keep
            return {"productGuid": product["productId"], "userGuid": guid, "unassigned": removed}

    # --- for tests and seeding -----------------------------------------------------------

    def user_by_name(self, name: str) -> dict[str, Any] | None:
        """A copy of the (not deleted) user with this name, or None."""
        with self._lock:
            try:
                return copy.deepcopy(self._user(name))
            except SimError:
                return None

    def has_group(self, name: str) -> bool:
        """Whether a group with this GUID or name exists."""
        with self._lock:
            try:
                self._group(name)
            except SimError:
                return False
            return True

    def memberships(self, user: str) -> set[str]:
        """The names of the groups the user (GUID) is a member of."""
        with self._lock:
            return {g["name"] for g in self.groups.values() if user in g["users"]}

    def products_of(self, user: str) -> list[str]:
        """The product names assigned to the user (GUID), once per assignment."""
        with self._lock:
            return sorted(a["productName"] for a in self.assignments if a["userGuid"] == user)
