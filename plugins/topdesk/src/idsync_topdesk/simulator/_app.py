"""The HTTP face of the simulator: TOPdesk's ``/tas/api`` paths, BASIC auth and both paging forms."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idsync_topdesk.simulator._store import PERSON_KEYS, SimError, Store

__all__ = ["V2_ACCEPT", "V2_FIELDS", "build_app"]

V2_ACCEPT = "application/x.topdesk-collection-person-v2+json"
CLASSIC_DEFAULT, CLASSIC_MAX = 10, 100
V2_DEFAULT, V2_MAX = 10, 5000
V2_FIELDS = frozenset(PERSON_KEYS - {"gender", "status"})
"""The names the v2 collection accepts in ``fields``: not ``gender`` (Tools4ever's TOPdesk
import leaves it out, "not a supported field to query (APIv2)"), not the classic ``status``."""

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message}], status_code=status, headers=headers)


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SimError(400, f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise SimError(400, f"{name} must be between {low} and {high}.")
    return value


def _fields(request: Request, *, v2: bool) -> list[str] | None:
    """The ``fields`` asked for; in the v2 collection each must be one it serves.

    The v2 collection serves the person's own top-level fields, ``archived`` instead of
    ``status``, and not ``gender``; a dotted name (``branch.name``) or a field of another
    endpoint (``contract``, ``privateDetails``) is refused like an unknown one.
    """
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    fields = [f.strip() for f in raw.split(",")]
    if v2:
        for name in fields:
            if name not in V2_FIELDS:
                raise SimError(400, f"The field '{name}' is not supported in 'fields'.")
    return [f for f in fields if f] or None


def _select(row: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return row
    return {k: row[k] for k in ["id", *fields] if k in row}


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise SimError(400, "The request body is not valid JSON.") from None


def build_app(store: Store, username: str, password: str, *, v2: bool = True) -> Starlette:
    """The TOPdesk API over ``store``, accepting one operator's application password.

    Without ``v2`` it is an environment that does not know the v2 person collection yet.
    """
    expected = f"{username}:{password}".encode()

    def authorized(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected)

    def api(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            if not authorized(request):
                return _error(
                    401, "Authentication failed.", {"WWW-Authenticate": 'Basic realm="TOPdesk"'}
                )
            try:
                return await handler(request)
            except SimError as exc:
                return _error(exc.status, exc.message)

        return wrapped

    async def list_persons(request: Request) -> Response:
        params = request.query_params
        wants_v2 = V2_ACCEPT in request.headers.get("accept", "")
        if wants_v2 and not v2:
            raise SimError(406, f"No representation for the media type {V2_ACCEPT}.")
        fields = _fields(request, v2=wants_v2)
        rows = store.query(params.get("query"))
        if wants_v2:
            if "start" in params or "page_size" in params:
                raise SimError(400, "The v2 collection pages with pageStart and pageSize.")
            start = _int(request, "pageStart", 0, 0, 10**9)
            size = _int(request, "pageSize", V2_DEFAULT, 1, V2_MAX)
            page = rows[start : start + size]
            following = None
            if start + size < len(rows):
                query = dict(params)
                query.update(pageStart=str(start + size), pageSize=str(size))
                following = (
                    f"{str(request.base_url).rstrip('/')}{request.url.path}?{urlencode(query)}"
                )
            items = [_select({k: v for k, v in r.items() if k != "status"}, fields) for r in page]
            return JSONResponse({"item": items, "next": following}, media_type=V2_ACCEPT)
        if "pageStart" in params or "pageSize" in params:
            raise SimError(400, f"pageStart and pageSize need the Accept header {V2_ACCEPT}.")
        start = _int(request, "start", 0, 0, 10**9)
        size = _int(request, "page_size", CLASSIC_DEFAULT, 1, CLASSIC_MAX)
        page = rows[start : start + size]
        if not page:
            return Response(status_code=204)
        items = [_select({k: v for k, v in r.items() if k != "archived"}, fields) for r in page]
        return JSONResponse(items, status_code=206 if start + size < len(rows) else 200)

    async def create_person(request: Request) -> Response:
        return JSONResponse(store.create_person(await _body(request)), status_code=201)

    async def person(request: Request) -> Response:
        person_id = request.path_params["id"]
        if request.method == "PATCH":
            return JSONResponse(store.patch_person(person_id, await _body(request)))
        return JSONResponse(store.person(person_id))

    async def archive(request: Request) -> Response:
        return JSONResponse(store.archive(request.path_params["id"], await _body(request)))

    async def unarchive(request: Request) -> Response:
        return JSONResponse(store.unarchive(request.path_params["id"]))

    async def contract(request: Request) -> Response:
        return JSONResponse(store.contract(request.path_params["id"]))

    def lookup_list(table: str, *, writable: bool) -> Handler:
        async def handler(request: Request) -> Response:
            if request.method == "POST":
                if not writable:
                    raise SimError(405, "Method not allowed.")
                return JSONResponse(
                    store.create_entry(table, await _body(request)), status_code=201
                )
            return JSONResponse(store.entries(table))

        return handler

    base = "/tas/api"
    routes = [
        Route(f"{base}/persons", api(list_persons), methods=["GET"]),
        Route(f"{base}/persons", api(create_person), methods=["POST"]),
        Route(f"{base}/persons/id/{{id}}", api(person), methods=["GET", "PATCH"]),
        Route(f"{base}/persons/id/{{id}}/archive", api(archive), methods=["PATCH"]),
        Route(f"{base}/persons/id/{{id}}/unarchive", api(unarchive), methods=["PATCH"]),
        Route(f"{base}/persons/id/{{id}}/contract", api(contract), methods=["GET"]),
        Route(
            f"{base}/archiving-reasons",
            api(lookup_list("archiving-reasons", writable=False)),
            methods=["GET"],
        ),
        Route(f"{base}/countries", api(lookup_list("countries", writable=False)), methods=["GET"]),
    ]
    for table in ("branches", "departments", "budgetholders"):
        routes.append(
            Route(
                f"{base}/{table}", api(lookup_list(table, writable=True)), methods=["GET", "POST"]
            )
        )
    return Starlette(routes=routes)
