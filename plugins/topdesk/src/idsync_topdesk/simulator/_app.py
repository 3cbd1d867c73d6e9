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

from idsync_topdesk.simulator._store import SimError, Store

__all__ = ["V2_ACCEPT", "build_app"]

V2_ACCEPT = "application/x.topdesk-collection-person-v2+json"
CLASSIC_DEFAULT, CLASSIC_MAX = 10, 100
V2_DEFAULT, V2_MAX = 10, 5000

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


def _fields(request: Request) -> list[str] | None:
    raw = request.query_params.get("fields")
    if not raw:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]


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


def build_app(store: Store, username: str, password: str) -> Starlette:
    """The TOPdesk API over ``store``, accepting one operator's application password."""
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
        rows = store.query(params.get("query"))
        fields = _fields(request)
        if V2_ACCEPT in request.headers.get("accept", ""):
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
