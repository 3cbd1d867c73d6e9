"""A typed client for the parts of the HelloID REST API that idsync uses.

It speaks the API as HelloID's own provisioning connector does: Basic auth of key and secret,
``skip``/``take`` paging until a short page, ``GET /users/{userGUID or userName}`` with 404
``{"message": "User not found"}`` for an unknown user. Every answer is checked for the shape
it must have, so a proxy's HTML page or a truncated body fails with a message naming the call
instead of surfacing later as a strange ``KeyError``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from idsync import ApiClient, ApiError
from idsync.secrets import redact

from idsync_helloid._userdata import lookup
from idsync_helloid.settings import HelloIDSettings

__all__ = [
    "HelloIDClient",
    "assignment_product",
    "assignment_user",
    "group_guid",
    "group_members",
    "product_id",
    "user_guid",
]


def _segment(value: str) -> str:
    """One URL path segment, every reserved character escaped."""
    return quote(value, safe="")


def _text(item: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = lookup(item, name)
        if isinstance(value, str) and value:
            return value
    return None


def user_guid(user: Mapping[str, Any]) -> str | None:
    """A user object's ``userGUID``."""
    return _text(user, "userGUID", "userGuid", "userId")


def group_guid(group: Mapping[str, Any]) -> str | None:
    """A group object's ``groupGuid``."""
    return _text(group, "groupGuid", "groupGUID", "groupId")


def product_id(product: Mapping[str, Any]) -> str | None:
    """A self-service product's id (``productId``; V1 ``selfServiceProductGUID``)."""
    return _text(product, "productId", "productGuid", "selfServiceProductGUID")


def assignment_product(assignment: Mapping[str, Any]) -> str | None:
    """The product id of a product assignment."""
    return _text(assignment, "productGuid", "productId", "productGUID")


def assignment_user(assignment: Mapping[str, Any]) -> str | None:
    """The user GUID of a product assignment."""
    return _text(assignment, "userGuid", "userGUID", "userId")


def group_members(group: Mapping[str, Any]) -> set[str]:
    """The user GUIDs of a group's ``users`` (strings, or objects carrying a GUID)."""
    members: set[str] = set()
    for item in lookup(group, "users") or []:
        if isinstance(item, str):
            members.add(item.casefold())
        elif isinstance(item, Mapping) and (guid := user_guid(item)):
            members.add(guid.casefold())
    return members


_RECENT_LOOKUPS = 10_000
"""Lookups a client remembers for :meth:`HelloIDClient.recent_user` (forgotten all at once
beyond this, so a long-lived client stays small)."""


def _snippet(response: httpx.Response) -> str:
    return redact(" ".join(response.text.split()))[
        :160
    ]  # mask first: a cut must not split a secret


def _parse(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        kind = (
            "an HTML page" if "<html" in response.text[:500].lower() else "a body that is not JSON"
        )
        raise ApiError(
            f"HelloID answered HTTP {response.status_code} with {kind}: {_snippet(response)!r}",
            method=method,
            path=path,
            status=response.status_code,
        ) from exc


def _object(
    body: Any, what: str, method: str, path: str, *, key: str | None = None
) -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        body = body["data"]
    if not isinstance(body, dict) or (key is not None and not _text(body, key)):
        shown = redact(json.dumps(body))[:160] if body is not None else "an empty body"
        raise ApiError(
            f"HelloID answered with {shown} where {what} was expected",
            method=method,
            path=path,
        )
    return body


def _items(body: Any, method: str, path: str) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for name in ("data", "pageData"):
            if isinstance(body.get(name), list):
                body = body[name]
                break
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        shown = redact(json.dumps(body))[:160] if body is not None else "an empty body"
        raise ApiError(
            f"HelloID answered with {shown} where a list of objects was expected",
            method=method,
            path=path,
        )
    return body


class HelloIDClient:
    """One HelloID tenant. Thread-safe: the engine calls it from many threads at once."""

    def __init__(
        self,
        settings: HelloIDSettings,
        *,
        system: str = "helloid",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.api = ApiClient(
            settings.base_url,
            auth=httpx.BasicAuth(
                settings.api_key.get_secret_value(), settings.api_secret.get_secret_value()
            ),
            headers={"Accept": "application/json"},
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            rate_limit=settings.rate_limit,
            max_connections=settings.concurrency,
            system=system,
            transport=transport,
        )
        self._recent: dict[str, dict[str, Any] | None] = {}
        self._recent_lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    # --- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        return _parse(response, method, path)

    def probe(self) -> None:
        """Read one user: proves the URL, the credentials and a JSON list answer."""
        _items(self._call("GET", "/users", params={"skip": 0, "take": 1}), "GET", "/users")

    def _lookup(self, path: str, what: str, key: str) -> dict[str, Any] | None:
        """GET one object; None when HelloID says it does not exist."""
        response = self.api.request("GET", path, ok=(404,))
        if response.status_code == 404:
            self._require_not_found(response, "GET", path)
            return None
        return _object(_parse(response, "GET", path), what, "GET", path, key=key)

    @staticmethod
    def _require_not_found(response: httpx.Response, method: str, path: str) -> None:
        """Accept a 404 only when it is HelloID's own *not found* answer.

        A 404 from anything else (a base URL without ``/api/v1``, a proxy) must not pass for
        "this user does not exist", or every person would look new.
        """
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        message = (body.get("message") or body.get("resultMsg")) if isinstance(body, dict) else None
        if isinstance(message, str) and "not found" in message.casefold():
            return
        raise ApiError(
            f"HTTP 404 that is not HelloID's 'not found' answer ({_snippet(response)!r}); "
            "is base_url the API root (https://{tenant}.helloid.com/api/v1)?",
            method=method,
            path=path,
            status=404,
        )

    def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        take = self.settings.page_size
        skip = 0
        previous: list[dict[str, Any]] | None = None
        while True:
            query = {**(params or {}), "skip": skip, "take": take}
            items = _items(self._call("GET", path, params=query), "GET", path)
            if items and items == previous:
                raise ApiError(
                    f"paging does not advance: skip={skip} answered the same page as before",
                    method="GET",
                    path=path,
                )
            yield from items
            if len(items) < take:
                return
            previous = items
            skip += take

    # --- users ---------------------------------------------------------------------------

    def get_user(self, user: str, *, deleted: bool = False) -> dict[str, Any] | None:
        """The user with this ``userGUID`` or ``userName``; None when there is none.

        HelloID answers this lookup for a soft-deleted user too (``isDeleted: true``); such a
        user counts as none unless ``deleted`` asks for it.
        """
        found = self._lookup(f"/users/{_segment(user)}", "a user object", "userGUID")
        with self._recent_lock:
            if len(self._recent) >= _RECENT_LOOKUPS:
                self._recent.clear()
            self._recent[user.casefold()] = found
        if found is not None and lookup(found, "isDeleted") is True and not deleted:
            return None
        return found

    def recent_user(self, user: str) -> tuple[bool, dict[str, Any] | None]:
        """The answer of this client's last lookup of ``user`` (soft-deleted users included),
        taken once: ``(True, user or None)``, or ``(False, None)`` when there was none.

        A create follows its correlation's lookup of the same name within moments; taking
        that answer spares the create a second identical request.
        """
        with self._recent_lock:
            key = user.casefold()
            if key in self._recent:
                return True, self._recent.pop(key)
        return False, None

    def iter_users(self, *, deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every user, page by page; ``deleted`` lists the soft-deleted ones instead."""
        yield from self._pages("/users", {"isDeleted": "true"} if deleted else None)

    def create_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /users``; the created user."""
        return _object(
            self._call("POST", "/users", json=dict(body)),
            "the created user",
            "POST",
            "/users",
            key="userGUID",
        )

    def update_user(self, guid: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """``PUT /users/{userGUID}`` with a whole user object; None when the user is gone."""
        path = f"/users/{_segment(guid)}"
        response = self.api.request("PUT", path, json=dict(body), ok=(404,))
        if response.status_code == 404:
            self._require_not_found(response, "PUT", path)
            return None
        return _object(
            _parse(response, "PUT", path), "the updated user", "PUT", path, key="userGUID"
        )

    def delete_user(self, guid: str) -> bool:
        """``DELETE /users/{userGUID}``; False when the user was already gone."""
        path = f"/users/{_segment(guid)}"
        response = self.api.request("DELETE", path, ok=(404,))
        if response.status_code == 404:
            self._require_not_found(response, "DELETE", path)
            return False
        return True

    # --- groups --------------------------------------------------------------------------

    def iter_groups(self) -> Iterator[dict[str, Any]]:
        """Every group (``groupGuid``, ``name``, ...), page by page."""
        yield from self._pages("/groups")

    def get_group(self, group: str) -> dict[str, Any] | None:
        """The group with this ``groupGuid`` or name, with its ``users``; None when missing."""
        return self._lookup(f"/groups/{_segment(group)}", "a group object", "groupGuid")

    def create_group(self, name: str) -> dict[str, Any]:
        """``POST /groups`` for an enabled group named ``name``; the created group."""
        return _object(
            self._call("POST", "/groups", json={"name": name, "isEnabled": True}),
            "the created group",
            "POST",
            "/groups",
            key="groupGuid",
        )

    def add_member(self, user: str, group: str) -> None:
        """``POST /users/{userGUID}/groups`` with ``{"groupGuid": ...}``."""
        self._call("POST", f"/users/{_segment(user)}/groups", json={"groupGuid": group})

    def remove_member(self, user: str, group: str) -> bool:
        """``DELETE /users/{userGUID}/groups/{groupGuid}``; False when there was nothing to remove."""
        path = f"/users/{_segment(user)}/groups/{_segment(group)}"
        response = self.api.request("DELETE", path, ok=(404,))
        if response.status_code == 404:
            self._require_not_found(response, "DELETE", path)
            return False
        return True

    # --- self-service products -----------------------------------------------------------

    def iter_products(self) -> Iterator[dict[str, Any]]:
        """Every Service Automation product (``productId``, ``name``, ...)."""
        yield from self._pages("/products")

    def iter_assignments(self, user: str | None = None) -> Iterator[dict[str, Any]]:
        """Product assignments (``productGuid``, ``productName``, ``userGuid``): all, or one user's."""
        path = (
            "/product-assignment"
            if user is None
            else f"/product-assignment/by-user/{_segment(user)}"
        )
        yield from self._pages(path)

    def request_product(self, product: str, user: str, comment: str) -> Any:
        """``POST /selfservice/products/request`` for ``user``, by ``user``."""
        return self._call(
            "POST",
            "/selfservice/products/request",
            json={
                "requestedProductGUID": product,
                "requestedByUserGUID": user,
                "requestedForUserGUID": user,
                "comment": comment,
            },
        )

    def unassign_product(self, product: str, user: str) -> Any:
        """``POST /product-assignment/unassign/by-product``: every assignment of the product."""
        return self._call(
            "POST",
            "/product-assignment/unassign/by-product",
            json={"productGUID": product, "userGUID": user, "executeActions": True},
        )
