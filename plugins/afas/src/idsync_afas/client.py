"""HTTP access to AFAS Profit: the AfasToken header, GetConnector paging and UpdateConnectors.

GetConnectors are read with ``skip``/``take`` and ``orderbyfieldids`` until a page comes back
shorter than ``take`` (AFAS has no total count). Errors come back as HTTP 500 with
``{externalMessage, errorNumber, profitLogReference}``; they are raised as :class:`AfasError`
with the message and the log reference AFAS support asks for. A 503 (maintenance) says in its
body how long to wait (``retry_after``); short waits are honoured by the retry loop, long ones
fail at once instead of holding the run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from idsync import ApiClient, ApiError
from loguru import logger

from idsync_afas.settings import AfasSettings

__all__ = ["AfasClient", "AfasError", "Filter", "afas_token_header"]

Filter = tuple[str, str, int]
"""``(field, value, operator)``; operator 1 is *equals* (AFAS ``operatortypes``)."""

_SEPARATORS = (",", ";")


def afas_token_header(token_xml: str) -> str:
    """The ``Authorization`` value: ``AfasToken`` and the base64 of the whole token XML."""
    return "AfasToken " + base64.b64encode(token_xml.strip().encode("ascii")).decode("ascii")


class AfasError(ApiError):
    """An AFAS call failed; ``external_message`` and ``log_reference`` are AFAS's own words."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        body: Any = None,
        retriable: bool = False,
        external_message: str | None = None,
        log_reference: str | None = None,
    ) -> None:
        super().__init__(
            message, method=method, path=path, status=status, body=body, retriable=retriable
        )
        self.external_message = external_message
        self.log_reference = log_reference


class _Maintenance(Exception):
    """AFAS is in maintenance for longer than the client is willing to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g} s")
        self.retry_after = retry_after


class _Refused(Exception):
    """AFAS answered a functional error (HTTP 500 with ``externalMessage``): not transient."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


_TRANSIENT_MESSAGES = ("maximale tijdsduur",)
"""Functional errors that may pass on a later attempt (the server-side 900 s time limit)."""


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class _AfasTransport(httpx.BaseTransport):
    """Classifies AFAS answers before the retry loop sees them.

    A 503 with ``retry_after`` in its body gets a ``Retry-After`` header the retry loop
    honours, or gives up at once when the wait is longer than ``max_wait``. A 500 carrying an
    ``externalMessage`` is AFAS's functional answer (unknown field, validation, unchanged
    value): sending it again would only repeat it, so it is not retried.
    """

    def __init__(self, max_wait: float) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        self._inner = httpx.HTTPTransport(limits=limits)
        self._max_wait = max_wait

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        status = response.status_code
        if status not in (500, 503):
            return response
        response.read()
        body = _json_body(response)
        if not isinstance(body, dict):
            return response
        if status == 500 and isinstance(body.get("externalMessage"), str):
            response.close()
            raise _Refused(status, body)
        wait = body.get("retry_after")
        if status != 503 or "retry-after" in response.headers:
            return response
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait < 0:
            return response
        if wait > self._max_wait:
            response.close()
            raise _Maintenance(float(wait))
        response.headers["Retry-After"] = str(int(wait))
        return response

    def close(self) -> None:
        self._inner.close()


def _afas_error(
    method: str, path: str, status: int | None, body: Any, retriable: bool, fallback: str
) -> AfasError:
    external = log_ref = None
    number = None
    if isinstance(body, dict):
        if isinstance(body.get("externalMessage"), str):
            external = body["externalMessage"]
        if isinstance(body.get("profitLogReference"), str):
            log_ref = body["profitLogReference"]
        number = body.get("errorNumber")
    if status == 401:
        message = "AFAS refused the token (HTTP 401); check the App-connector token"
    elif status == 403:
        message = "AFAS refused the call (HTTP 403: IP restriction or no rights on the connector)"
    elif external:
        message = f"AFAS answered HTTP {status}: {external}"
        if number is not None:
            message += f" (error {number})"
        if log_ref:
            message += f" [log reference {log_ref}]"
    else:
        message = fallback
    return AfasError(
        message,
        method=method,
        path=path,
        status=status,
        body=body,
        retriable=retriable,
        external_message=external,
        log_reference=log_ref,
    )


def _check_filter_value(field: str, value: str) -> None:
    if any(sep in value for sep in _SEPARATORS):
        raise AfasError(
            f"cannot filter {field} on a value containing ',' or ';' (AFAS filter separators)"
        )


class AfasClient:
    """A thread-safe client for one AFAS environment (one connection pool)."""

    def __init__(self, settings: AfasSettings, *, system: str = "afas") -> None:
        headers = {
            "Authorization": afas_token_header(settings.token.get_secret_value()),
            "Accept": "application/json",
        }
        if settings.integration_id:
            headers["IntegrationId"] = settings.integration_id
        self.system = system
        self.page_size = settings.page_size
        self._api = ApiClient(
            settings.base_url,
            headers=headers,
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            system=system,
            transport=_AfasTransport(max_wait=settings.max_backoff),
        )

    @property
    def stats(self) -> dict[str, int]:
        """Requests, retries and writes sent so far."""
        return dict(self._api.stats)

    def close(self) -> None:
        """Close the connection pool."""
        self._api.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        try:
            return self._api.json(
                method,
                path,
                params=params,
                json=json,
                headers={"Content-Type": "application/json;charset=utf-8"}
                if json is not None
                else None,
                idempotent=idempotent,
            )
        except _Maintenance as exc:
            raise AfasError(
                f"AFAS is in maintenance (HTTP 503); try again in {exc.retry_after:g} s",
                method=method,
                path=path,
                status=503,
                retriable=True,
            ) from None
        except _Refused as exc:
            text = str(exc.body.get("externalMessage", "")).lower()
            transient = any(m in text for m in _TRANSIENT_MESSAGES)
            raise _afas_error(method, path, exc.status, exc.body, transient, "") from None
        except ApiError as exc:
            fallback = str(exc).removeprefix(f"{exc.method} {exc.path}: ")
            raise _afas_error(
                exc.method, exc.path, exc.status, exc.body, exc.retriable, fallback
            ) from None

    def rows(
        self,
        connector: str,
        *,
        order_by: Sequence[str],
        filters: Sequence[Filter] = (),
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Stream every row of a GetConnector, page by page, in ``order_by`` order.

        ``filters`` all apply (AND). A field name prefixed ``-`` in ``order_by`` sorts descending.
        """
        take = page_size or self.page_size
        params: dict[str, Any] = {"orderbyfieldids": ",".join(order_by)}
        if filters:
            for field, value, _ in filters:
                _check_filter_value(field, value)
            params["filterfieldids"] = ",".join(f for f, _, _ in filters)
            params["filtervalues"] = ",".join(v for _, v, _ in filters)
            params["operatortypes"] = ",".join(str(op) for _, _, op in filters)
        path = f"/connectors/{quote(connector, safe='')}"
        skip = 0
        previous: dict[str, Any] | None = None
        while True:
            body = self._call("GET", path, params={"skip": skip, "take": take, **params})
            rows = body.get("rows") if isinstance(body, dict) else None
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise AfasError(
                    "answered without a list of rows (expected {skip, take, rows})",
                    method="GET",
                    path=path,
                )
            if len(rows) > take or (rows and rows[0] == previous):
                # A server that ignores skip or take would make this loop forever or repeat rows.
                raise AfasError(
                    f"answered a page that does not follow skip={skip}&take={take}",
                    method="GET",
                    path=path,
                )
            previous = rows[0] if rows else None
            yield from rows
            if len(rows) < take:
                logger.bind(system=self.system).debug(
                    "read {} rows from {}", skip + len(rows), connector
                )
                return
            skip += take

    def find(self, connector: str, field: str, value: str) -> list[dict[str, Any]]:
        """The rows of ``connector`` whose ``field`` equals ``value``."""
        return list(self.rows(connector, order_by=[field], filters=[(field, value, 1)]))

    def update(self, connector: str, body: Mapping[str, Any], *, method: str = "PUT") -> Any:
        """Send ``body`` to an UpdateConnector (``PUT`` updates, ``POST`` inserts)."""
        # Not idempotent: sent twice, the second would set a field to its current value,
        # which AFAS rejects. Only answers that say the work was not done are retried.
        path = f"/connectors/{quote(connector, safe='')}"
        return self._call(method, path, json=body, idempotent=False)
