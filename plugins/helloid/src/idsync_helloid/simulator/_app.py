"""The HelloID API as a starlette app: the paths, auth, paging and answers of ``/api/v1``."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from idsync_helloid.simulator._store import (
    LEGACY_MEMBERSHIP_FIELDS,
    MEMBERSHIP_FIELDS,
    HelloIDStore,
    SimError,
    plain_body,
)

__all__ = ["API_ROOT", "create_app"]

API_ROOT = "/api/v1"

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


class _BasicAuth:
    """401 ``{"message": ...}`` unless the request carries ``Basic base64(key:secret)``."""

    def __init__(self, app: ASGIApp, api_key: str, api_secret: str) -> None:
        self.app = app
        self._expected = f"{api_key}:{api_secret}".encode()

    def _allowed(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.casefold() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1")
            if not self._allowed(header):
                response = JSONResponse(
                    {"message": "Authorization has been denied for this request."},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="HelloID"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _paging(request: Request) -> tuple[int, int | None]:
    values: list[int | None] = []
    for name in ("skip", "take"):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            values.append(None)
            continue
        try:
            number = int(raw)
        except ValueError:
            raise SimError(400, f"The value '{raw}' is not valid for '{name}'") from None
        if number < 0:
            raise SimError(400, f"The value '{raw}' is not valid for '{name}'")
        values.append(number)
    return values[0] or 0, values[1]


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise SimError(400, "The request body is not valid JSON") from None


def _answering(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except SimError as exc:
            return _error(exc.status, exc.message)

    return run


def create_app(store: HelloIDStore, api_key: str, api_secret: str) -> ASGIApp:
    """The simulated API over ``store``, guarded by the given key and secret.

    The store is also at ``app.state.store`` of the inner starlette app.
    """

    async def users(request: Request) -> Response:
        skip, take = _paging(request)
        deleted = request.query_params.get("isDeleted", "").casefold() == "true"
        return JSONResponse(store.list_users(deleted=deleted, skip=skip, take=take))

    async def create_user(request: Request) -> Response:
        return JSONResponse(store.create_user(await _body(request)))

    async def get_user(request: Request) -> Response:
        return JSONResponse(store.get_user(request.path_params["user"]))

    async def put_user(request: Request) -> Response:
        return JSONResponse(store.update_user(request.path_params["user"], await _body(request)))

    async def delete_user(request: Request) -> Response:
        store.delete_user(request.path_params["user"])
        return Response(status_code=204)

    async def groups(request: Request) -> Response:
        skip, take = _paging(request)
        return JSONResponse(store.list_groups(skip=skip, take=take))

    async def create_group(request: Request) -> Response:
        return JSONResponse(store.create_group(await _body(request)))

    async def get_group(request: Request) -> Response:
        return JSONResponse(store.get_group(request.path_params["group"]))

    async def add_member(request: Request) -> Response:
        body = plain_body(await _body(request), MEMBERSHIP_FIELDS)
        if not isinstance(body.get("groupGuid"), str):
            raise SimError(400, "Field 'groupGuid' is required")
        store.add_member(request.path_params["user"], body["groupGuid"])
        return Response(status_code=204)

    async def remove_member(request: Request) -> Response:
        store.remove_member(request.path_params["user"], request.path_params["group"])
        return Response(status_code=204)

    async def legacy_add_member(request: Request) -> Response:
        body = plain_body(await _body(request), LEGACY_MEMBERSHIP_FIELDS)
        if not isinstance(body.get("userGUID"), str):
            raise SimError(400, "Field 'userGUID' is required")
        store.add_member(body["userGUID"], request.path_params["group"])
        return Response(status_code=204)

    async def legacy_remove_member(request: Request) -> Response:
        store.remove_member(request.path_params["user"], request.path_params["group"])
        return Response(status_code=204)

    async def products(request: Request) -> Response:
        skip, take = _paging(request)
        return JSONResponse(store.list_products(skip=skip, take=take))

    async def legacy_products(request: Request) -> Response:
        skip, take = _paging(request)
        return JSONResponse(
            [
                {
                    "selfServiceProductGUID": p["productId"],
                    "name": p["name"],
                    "isEnabled": p["isEnabled"],
                }
                for p in store.list_products(skip=skip, take=take)
            ]
        )

    async def request_product(request: Request) -> Response:
        return JSONResponse(store.request_product(await _body(request)))

    async def assignments(request: Request) -> Response:
        skip, take = _paging(request)
        return JSONResponse(store.list_assignments(skip=skip, take=take))

    async def assignments_of(request: Request) -> Response:
        skip, take = _paging(request)
        user = request.path_params["user"]
        return JSONResponse(store.list_assignments(user=user, skip=skip, take=take))

    async def unassign(request: Request) -> Response:
        return JSONResponse(store.unassign(await _body(request)))

    def route(suffix: str, handler: Handler, method: str) -> Route:
        return Route(API_ROOT + suffix, _answering(handler), methods=[method])

    routes = [
        route("/users", users, "GET"),
        route("/users", create_user, "POST"),
        route("/users/{user}/groups", add_member, "POST"),
        route("/users/{user}/groups/{group}", remove_member, "DELETE"),
        route("/users/{user}", get_user, "GET"),
        route("/users/{user}", put_user, "PUT"),
        route("/users/{user}", delete_user, "DELETE"),
        route("/groups", groups, "GET"),
        route("/groups", create_group, "POST"),
        route("/groups/{group}/users", legacy_add_member, "POST"),
        route("/groups/{group}/users/{user}", legacy_remove_member, "DELETE"),
        route("/groups/{group:path}", get_group, "GET"),
        route("/products", products, "GET"),
        route("/selfservice/products", legacy_products, "GET"),
        route("/selfservice/products/request", request_product, "POST"),
        route("/product-assignment", assignments, "GET"),
        route("/product-assignment/by-user/{user}", assignments_of, "GET"),
        route("/product-assignment/unassign/by-product", unassign, "POST"),
    ]
    app = Starlette(routes=routes)
    app.state.store = store
    return _BasicAuth(app, api_key, api_secret)
