"""The AFAS ProfitRestServices simulator: GetConnectors and UpdateConnectors over HTTP."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from typing import Any

from idsync.sandbox.simulator import Faults, Simulated
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idsync_afas import connectors
from idsync_afas.simulator._query import Fault, parse_query
from idsync_afas.simulator._store import AfasData

__all__ = ["MOUNT", "AfasSimulator"]

MOUNT = "/profitrestservices"
_UPDATE_CONNECTORS = ("KnEmployee", "KnUser")


def _error(status: int, message: str, number: int = -2147467259) -> JSONResponse:
    return JSONResponse(
        {
            "externalMessage": message,
            "errorNumber": number,
            "profitLogReference": uuid.uuid4().hex.upper(),
        },
        status_code=status,
    )


class AfasSimulator:
    """One simulated AFAS environment: its data, its token and the served app.

    ``app`` is the ASGI app (wrapped in :class:`~idsync.sandbox.simulator.Simulated`, so it has a
    request log and fault injection) serving ``/profitrestservices/connectors/{name}``.
    """

    def __init__(
        self,
        data: AfasData,
        token: str,
        *,
        integration_id: str | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.data = data
        self._authorization = "AfasToken " + base64.b64encode(token.strip().encode()).decode()
        self._token = token.strip()
        self.integration_id = integration_id
        self._lock = threading.Lock()
        self._maintenance: list[int] = []
        """``[remaining requests (-1 = until ended), retry_after seconds]`` while in maintenance."""
        self._failures: list[tuple[str, int]] = []
        self._selections: dict[tuple[Any, ...], tuple[list[Any], list[dict[str, Any]]]] = {}
        """Ordered rows per connector and ordering, with the rows they came from."""
        starlette = Starlette(
            routes=[
                Route(
                    f"{MOUNT}/connectors/{{name}}",
                    self._connector,
                    methods=["GET", "PUT", "POST"],
                )
            ],
            exception_handlers={HTTPException: self._http_error},
        )
        starlette.state.afas = self
        self.app = Simulated(starlette, faults)

    # --- AFAS-specific faults ------------------------------------------------------------

    def maintenance(self, retry_after: int = 7200, requests: int | None = None) -> None:
        """Answer 503 ``{"error": …, "retry_after": N}`` (for ``requests`` calls, or until
        :meth:`end_maintenance`)."""
        with self._lock:
            self._maintenance = [-1 if requests is None else requests, retry_after]

    def end_maintenance(self) -> None:
        """Serve normally again."""
        with self._lock:
            self._maintenance = []

    def fail_next(
        self,
        message: str = "Er is een onverwachte fout opgetreden.",
        *,
        count: int = 1,
        number: int = -2147467259,
    ) -> None:
        """Answer the next ``count`` connector calls with HTTP 500 and this AFAS error."""
        with self._lock:
            self._failures.extend([(message, number)] * count)

    def _take_fault(self) -> Response | None:
        with self._lock:
            if self._maintenance:
                remaining, retry_after = self._maintenance
                if remaining > 0:
                    self._maintenance[0] -= 1
                if self._maintenance[0] == 0:
                    self._maintenance = []
                return JSONResponse(
                    {
                        "error": {
                            "code": "maintenance",
                            "message": "AFAS Profit is tijdelijk niet beschikbaar wegens onderhoud.",
                        },
                        "retry_after": retry_after,
                    },
                    status_code=503,
                )
            if self._failures:
                message, number = self._failures.pop(0)
                return _error(500, message, number)
        return None

    # --- HTTP ----------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header == self._authorization:
            return True
        scheme, _, value = header.partition(" ")
        if scheme != "AfasToken":
            return False
        try:
            return base64.b64decode(value, validate=True).decode().strip() == self._token
        except (binascii.Error, UnicodeDecodeError):
            return False

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(status, "De opgevraagde URL bestaat niet." if status == 404 else str(exc))

    async def _connector(self, request: Request) -> Response:
        fault = self._take_fault()
        if fault is not None:
            return fault
        if not self._authorized(request):
            return _error(401, "Ongeldig token: de token ontbreekt of wordt niet herkend.")
        if self.integration_id and request.headers.get("integrationid") != self.integration_id:
            return _error(403, "Deze integratie (IntegrationId) is niet geautoriseerd.")
        name = request.path_params["name"]
        try:
            if request.method == "GET":
                return JSONResponse(self._get(name, dict(request.query_params)))
            body = await request.body()
            try:
                payload: Any = json.loads(body) if body else None
            except ValueError:
                return _error(400, "Het bericht is geen geldige JSON.")
            result = self._update(name, payload, insert=request.method == "POST")
            return JSONResponse(result, status_code=201 if request.method == "POST" else 200)
        except Fault as exc:
            return _error(exc.status, exc.message, exc.number)

    def _get(self, name: str, params: dict[str, str]) -> dict[str, Any]:
        fields = connectors.GET_CONNECTORS.get(name)
        if fields is None:
            self.data.rows(name)  # raises the AFAS answer for an unknown GetConnector
            fields = ()
        query = parse_query(params, fields)
        employee = None
        if len(query.groups) == 1:
            employee = next(
                (v for f, op, v in query.groups[0] if f == "Medewerker" and op == 1), None
            )
        source = self.data.rows(name, employee=employee)
        if employee is not None or query.groups:
            return {"skip": query.skip, "take": query.take, "rows": query.apply(source)}
        # A client pages through a whole connector: sort it once, not once per page. The
        # connector's rows are a new list after any change, so a kept ordering is used only
        # while its rows are still the connector's current ones.
        key = (name, query.selection())
        kept = self._selections.get(key)
        if kept is None or kept[0] is not source:
            kept = (source, query.select(source))
            self._selections[key] = kept
        return {"skip": query.skip, "take": query.take, "rows": query.page(kept[1])}

    def _update(self, name: str, payload: Any, *, insert: bool) -> dict[str, Any]:
        if name == "KnEmployee":
            return self.data.update_employee(payload, insert=insert)
        if name == "KnUser":
            return self.data.update_user(payload, insert=insert)
        raise Fault(
            500, "Deze UpdateConnector wordt niet ondersteund of de gebruiker is niet geautoriseerd"
        )
