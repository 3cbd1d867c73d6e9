"""The TOPdesk REST client: BASIC auth, both paging forms, and cached name lookups.

One :class:`TopdeskClient` serves one configured system and is shared by the engine's worker
threads: the HTTP pool is thread-safe and every cache is guarded by a lock.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from idsync import ApiClient, ApiError

from idsync_topdesk.settings import Paging, TopdeskSettings
from idsync_topdesk.source import is_archived

__all__ = [
    "API",
    "CLASSIC_MAX_PAGE",
    "V2_ACCEPT",
    "LookupTable",
    "TopdeskClient",
    "fiql_equals",
    "fiql_quote",
]

API = "/tas/api"
V2_ACCEPT = "application/x.topdesk-collection-person-v2+json"
CLASSIC_MAX_PAGE = 100
"""The largest ``page_size`` the classic list form accepts."""

LookupTable = str
"""A lookup endpoint under ``/tas/api``: ``branches``, ``departments``, ``budgetholders``,
``archiving-reasons`` or ``countries``."""


def fiql_quote(value: Any) -> str:
    """A FIQL literal: strings single-quoted (``\\`` and ``'`` escaped), booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def fiql_equals(field: str, value: Any) -> str:
    """``field=='value'``."""
    return f"{field}=={fiql_quote(value)}"


class TopdeskClient:
    """Calls to one TOPdesk environment on behalf of the plugin."""

    def __init__(self, settings: TopdeskSettings, system: str = "topdesk") -> None:
        self.settings = settings
        credentials = f"{settings.username}:{settings.password.get_secret_value()}"
        token = base64.b64encode(credentials.encode()).decode("ascii")
        self.api = ApiClient(
            settings.base_url,
            headers={
                "Authorization": f"BASIC {token}",
                "Accept": "application/json; charset=utf-8",
            },
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
            max_backoff=max(settings.backoff * 8, 1.0),
            system=system,
        )
        self._origin = _origin(settings.base_url)
        self._lookups: dict[LookupTable, dict[str, str]] = {}
        self._lookup_locks: dict[LookupTable, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    # --- persons ---------------------------------------------------------------------

    def person(self, person_id: str) -> dict[str, Any] | None:
        """The person with ``person_id``, or None when TOPdesk does not know it (404).

        Only TOPdesk's own 404 (a JSON body) means *not found*: an HTML 404 comes from
        something else (a wrong ``base_url``, a proxy) and must not pass for a missing person.
        """
        path = f"{API}/persons/id/{person_id}"
        response = self.api.request("GET", path, ok=(404,))
        if response.status_code == 404:
            try:
                response.json()
            except ValueError:
                raise ApiError(
                    "answered 404 without TOPdesk's JSON body; is base_url the TOPdesk "
                    "environment (https://{customer}.topdesk.net)?",
                    method="GET",
                    path=f"{API}/persons/id/…",
                    status=404,
                ) from None
            return None
        return _object(
            self.api.parse(response, "GET", f"{API}/persons/id/…"), f"GET {API}/persons/id/…"
        )

    def find_persons(self, query: str) -> list[dict[str, Any]]:
        """Every person matching the FIQL ``query`` (classic form, all pages)."""
        return list(self.iter_persons("classic", query=query, page_size=CLASSIC_MAX_PAGE))

    def iter_persons(
        self,
        paging: Paging,
        *,
        query: str | None = None,
        fields: list[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream the persons matching ``query`` page by page, in the chosen paging form."""
        size = page_size or self.settings.page_size
        if paging == "v2":
            yield from self._iter_v2(query, fields, size)
        else:
            yield from self._iter_classic(query, fields, min(size, CLASSIC_MAX_PAGE))

    def _iter_classic(
        self, query: str | None, fields: list[str] | None, size: int
    ) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            params: dict[str, Any] = {"start": start, "page_size": size}
            if query:
                params["query"] = query
            if fields:
                params["fields"] = ",".join(fields)
            response = self.api.request("GET", f"{API}/persons", params=params)
            if response.status_code == 204 or not response.content:
                return
            page = self.api.parse(response, "GET", f"{API}/persons")
            if not isinstance(page, list):
                raise ApiError(
                    "answered with something other than a list of persons",
                    method="GET",
                    path=f"{API}/persons",
                    status=response.status_code,
                )
            yield from (_object(item, f"GET {API}/persons") for item in page)
            # 206 Partial Content says more pages exist; a full page on a plain 200 is
            # treated the same, so a server that does not send 206 is still read to the end.
            more = response.status_code == 206 or len(page) == size
            if not page or not more:
                return
            start += len(page)

    def _iter_v2(
        self, query: str | None, fields: list[str] | None, size: int
    ) -> Iterator[dict[str, Any]]:
        first: dict[str, Any] = {"pageStart": 0, "pageSize": size}
        if query:
            first["query"] = query
        if fields:
            first["fields"] = ",".join(fields)
        params: dict[str, Any] | None = first
        url = f"{API}/persons"
        seen: set[str] = set()
        while True:
            body = self.api.get(url, params=params, headers={"Accept": V2_ACCEPT})
            if body is None:
                return
            if not isinstance(body, dict) or not isinstance(body.get("item"), list):
                raise ApiError(
                    "answered without the v2 collection shape {item, next}",
                    method="GET",
                    path=f"{API}/persons",
                )
            yield from (_object(item, f"GET {API}/persons") for item in body["item"])
            following = body.get("next")
            if not following or not body["item"]:
                return
            url = self._same_origin(str(following))
            if url in seen:
                raise ApiError("the next link repeats itself", method="GET", path=f"{API}/persons")
            seen.add(url)
            params = None

    def _same_origin(self, link: str) -> str:
        """The absolute ``next`` link, refused when it leaves the configured host.

        Following a link elsewhere would send the credentials to another server.
        """
        absolute = urljoin(self._origin + "/", link)
        if _origin(absolute) != self._origin:
            raise ApiError(
                f"the next link points to another host ({_origin(absolute)})",
                method="GET",
                path=f"{API}/persons",
            )
        return absolute

    def create_person(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /persons``; returns the created person."""
        return _object(self.api.post(f"{API}/persons", json=dict(body)), f"POST {API}/persons")

    def patch_person(self, person_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH /persons/id/{id}`` with only the fields in ``body``."""
        path = f"{API}/persons/id/{person_id}"
        return _object(self.api.patch(path, json=dict(body), idempotent=True), "PATCH person")

    def archive(self, person_id: str, reason_id: str) -> None:
        """``PATCH /persons/id/{id}/archive`` with the archiving reason.

        Safe to repeat: when a retry finds the person archived already (the first attempt
        did the work but its answer was lost), that is the wanted outcome.
        """
        self._set_archived(person_id, True, {"id": reason_id})

    def unarchive(self, person_id: str) -> None:
        """``PATCH /persons/id/{id}/unarchive``; safe to repeat like :meth:`archive`."""
        self._set_archived(person_id, False, None)

    def _set_archived(self, person_id: str, archived: bool, body: Any) -> None:
        action = "archive" if archived else "unarchive"
        path = f"{API}/persons/id/{person_id}/{action}"
        try:
            self.api.request("PATCH", path, json=body, idempotent=True)
        except ApiError as exc:
            if exc.status != 400:
                raise
            person = self.person(person_id)
            if person is None or is_archived(person) is not archived:
                raise

    def contract(self, person_id: str) -> dict[str, Any]:
        """``GET /persons/id/{id}/contract``: hire and termination dates."""
        path = f"{API}/persons/id/{person_id}/contract"
        return _object(self.api.get(path), f"GET {API}/persons/id/…/contract")

    # --- lookups ---------------------------------------------------------------------

    def lookup_list(self, table: LookupTable) -> list[dict[str, Any]]:
        """Every entry of a lookup list (``[{"id", "name", …}]``)."""
        body = self.api.get(f"{API}/{table}")
        if body is None:
            return []
        if not isinstance(body, list):
            raise ApiError("answered with something other than a list", method="GET", path=table)
        return [_object(item, f"GET {API}/{table}") for item in body]

    def lookup(self, table: LookupTable, name: str) -> str | None:
        """The id of the entry named ``name`` (case-insensitive, as TOPdesk matches), or None.

        Lists are read once and cached; a miss reads the list again, since another system
        or another thread may have created the entry since.
        """
        key = name.strip().casefold()
        with self._lock(table):
            cached = self._lookups.get(table)
            if cached is not None and key in cached:
                return cached[key]
            fresh = self._load(table)
            return fresh.get(key)

    def ensure_lookup(
        self, table: LookupTable, name: str, body: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """The id of the entry named ``name``, creating it with ``body`` when missing.

        Returns ``(id, created)``. Holding the table's lock while creating means two threads
        never create the same entry twice.
        """
        key = name.strip().casefold()
        with self._lock(table):
            cached = self._lookups.get(table)
            if cached is None or key not in cached:
                cached = self._load(table)
            if key in cached:
                return cached[key], False
            created = _object(self.api.post(f"{API}/{table}", json=dict(body)), f"POST {table}")
            new_id = str(created["id"])
            cached[key] = new_id
            return new_id, True

    def _load(self, table: LookupTable) -> dict[str, str]:
        entries: dict[str, str] = {}
        for item in self.lookup_list(table):
            name = item.get("name")
            if isinstance(name, str) and item.get("id"):
                entries.setdefault(name.strip().casefold(), str(item["id"]))
        self._lookups[table] = entries
        return entries

    def _lock(self, table: LookupTable) -> threading.Lock:
        with self._locks_guard:
            return self._lookup_locks.setdefault(table, threading.Lock())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value
