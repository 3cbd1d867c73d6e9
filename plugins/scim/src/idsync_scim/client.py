"""The SCIM protocol (RFC 7644) over idsync's :class:`~idsync.ApiClient`.

Every request goes through ``ApiClient``: retries with backoff honouring ``Retry-After``,
a rate limit, credentials registered for redaction, and errors that name the call. This
module adds what SCIM itself defines: the media type, ETags and ``If-Match``, paged
listings with ``startIndex`` and ``count``, and SCIM error bodies (``scimType``, ``detail``)
read through scim2-models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from idsync import ApiClient, ApiError
from idsync.secrets import redact
from pydantic import ValidationError
from scim2_models import Error

from idsync_scim.settings import ScimSettings

__all__ = ["MEDIA_TYPE", "Page", "ScimClient", "Stale", "Written", "problem"]

MEDIA_TYPE = "application/scim+json"
_SEND = {"Content-Type": MEDIA_TYPE}
_PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Stale(Exception):
    """A conditional write answered 412: the resource changed since its ETag was read."""


def problem(exc: ApiError) -> str:
    """What a SCIM server said in an error answer: ``scimType`` and ``detail`` when present.

    Registered secrets are masked: a server may echo the credentials it refused.
    """
    body = exc.body
    if isinstance(body, dict) and "status" in body:
        try:
            error = Error.model_validate(body)
        except ValidationError:
            return redact(str(exc))
        kind = f" ({error.scim_type})" if error.scim_type else ""
        detail = error.detail or "no detail"
        return redact(f"{exc.method} {exc.path}: HTTP {exc.status}{kind}: {detail}")
    return redact(str(exc))


@dataclass
class Page:
    """One page of a listing: its resources and the server's count of all of them."""

    resources: list[dict[str, Any]]
    total: int
    start: int
    per_page: int


@dataclass
class Written:
    """A resource as a write left it: the body when the server sent one, and its ETag."""

    resource: dict[str, Any] | None
    etag: str | None


def _etag(response: httpx.Response, body: Any) -> str | None:
    tag = response.headers.get("ETag")
    if isinstance(tag, str) and tag:
        return tag
    if isinstance(body, dict):
        version = (body.get("meta") or {}).get("version")
        if isinstance(version, str) and version:
            return version
    return None


class ScimClient:
    """A thread-safe client for one SCIM service provider."""

    def __init__(
        self,
        settings: ScimSettings,
        *,
        system: str = "scim",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        headers = {"Accept": f"{MEDIA_TYPE}, application/json"}
        auth: httpx.Auth | None = None
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif settings.username and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self.api = ApiClient(
            settings.base_url,
            auth=auth,
            headers=headers,
            timeout=settings.timeout,
            retries=settings.retries,
            backoff=settings.backoff,
            max_backoff=settings.max_backoff,
            rate_limit=settings.rate_limit,
            max_connections=settings.concurrency,
            system=system,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    @property
    def stats(self) -> dict[str, int]:
        """Requests, retries and writes sent so far."""
        return self.api.stats

    # --- reads ---------------------------------------------------------------------------

    def discover(self, endpoint: str) -> Any:
        """A discovery endpoint's answer (``/Schemas``, ``/ResourceTypes``, …), or None on 404."""
        response = self.api.request("GET", endpoint, ok=(404,))
        if response.status_code == 404:
            return None
        return self.api.parse(response, "GET", endpoint)

    def get(
        self, endpoint: str, rid: str, attributes: Sequence[str] = ()
    ) -> tuple[dict[str, Any], str | None] | None:
        """One resource and its ETag; None when the server does not have it (404)."""
        path = f"{endpoint}/{rid}"
        params = {"attributes": ",".join(attributes)} if attributes else None
        response = self.api.request("GET", path, params=params, ok=(404,))
        if response.status_code == 404:
            return None
        body = self.api.parse(response, "GET", path)
        if not isinstance(body, dict):
            raise ApiError("answered without a resource", method="GET", path=path)
        return body, _etag(response, body)

    def search(
        self,
        endpoint: str,
        *,
        filter: str | None = None,
        start: int = 1,
        count: int | None = None,
        attributes: Sequence[str] = (),
        excluded: Sequence[str] = (),
    ) -> Page:
        """One page of ``GET endpoint`` with a filter, ``startIndex`` and ``count``."""
        params: dict[str, Any] = {"startIndex": start}
        if count is not None:
            params["count"] = count
        if filter is not None:
            params["filter"] = filter
        if attributes:
            params["attributes"] = ",".join(attributes)
        if excluded:
            params["excludedAttributes"] = ",".join(excluded)
        body = self.api.get(endpoint, params=params)
        if not isinstance(body, dict):
            raise ApiError("answered without a list response", method="GET", path=endpoint)
        resources = body.get("Resources") or []
        if not isinstance(resources, list):
            raise ApiError("answered Resources that are not a list", method="GET", path=endpoint)
        total = body.get("totalResults")
        return Page(
            resources=[r for r in resources if isinstance(r, dict)],
            total=total if isinstance(total, int) else len(resources),
            start=int(body.get("startIndex") or start),
            per_page=int(body.get("itemsPerPage") or len(resources)),
        )

    def every(
        self,
        endpoint: str,
        *,
        filter: str | None = None,
        page_size: int,
        attributes: Sequence[str] = (),
        excluded: Sequence[str] = (),
        parallel: int = 1,
    ) -> Iterator[dict[str, Any]]:
        """Every resource of a listing, page by page (``startIndex``/``count``).

        The first page tells how many there are and how many the server gives per page; the
        others are then read ``parallel`` at a time, in order. A server that gives fewer than
        it said is read on until a page comes back empty, so nothing is skipped.
        """
        first = self.search(
            endpoint,
            filter=filter,
            count=page_size,
            attributes=attributes,
            excluded=excluded,
        )
        yield from first.resources
        step = len(first.resources)
        if step == 0 or step >= first.total:
            return
        starts = list(range(1 + step, first.total + 1, step))

        def fetch(start: int) -> Page:
            return self.search(
                endpoint,
                filter=filter,
                start=start,
                count=step,
                attributes=attributes,
                excluded=excluded,
            )

        seen = step
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for page in pool.map(fetch, starts):
                yield from page.resources
                seen += len(page.resources)
        while seen < first.total:  # the listing grew, or a page came back short
            page = fetch(1 + seen)
            if not page.resources:
                return
            yield from page.resources
            seen += len(page.resources)

    # --- writes --------------------------------------------------------------------------

    def create(self, endpoint: str, body: Mapping[str, Any]) -> Written:
        """``POST endpoint``: the created resource and its ETag."""
        response = self.api.request("POST", endpoint, json=dict(body), headers=_SEND)
        created = self.api.parse(response, "POST", endpoint)
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise ApiError(
                "answered the create without the new resource's id",
                method="POST",
                path=endpoint,
                status=response.status_code,
            )
        return Written(created, _etag(response, created))

    def patch(
        self,
        endpoint: str,
        rid: str,
        operations: Sequence[Mapping[str, Any]],
        etag: str | None = None,
    ) -> Written | None:
        """``PATCH endpoint/rid``; None when the resource is gone (404).

        Servers answer 204 without a body or 200 with the resource (RFC 7644 §3.5.2); both
        are success. With ``etag`` the write is conditional, and a 412 raises :class:`Stale`.
        Without one it is repeated on a transient failure, since setting values is idempotent.
        """
        path = f"{endpoint}/{rid}"
        headers = dict(_SEND)
        if etag:
            headers["If-Match"] = etag
        body = {"schemas": [_PATCH_OP], "Operations": [dict(op) for op in operations]}
        response = self.api.request(
            "PATCH", path, json=body, headers=headers, ok=(404, 412), idempotent=True
        )
        return self._written(response, "PATCH", path)

    def put(
        self, endpoint: str, rid: str, resource: Mapping[str, Any], etag: str | None = None
    ) -> Written | None:
        """``PUT endpoint/rid`` with the whole resource; None on 404, :class:`Stale` on 412."""
        path = f"{endpoint}/{rid}"
        headers = dict(_SEND)
        if etag:
            headers["If-Match"] = etag
        response = self.api.request(
            "PUT", path, json=dict(resource), headers=headers, ok=(404, 412)
        )
        return self._written(response, "PUT", path)

    def _written(self, response: httpx.Response, method: str, path: str) -> Written | None:
        if response.status_code == 404:
            return None
        if response.status_code == 412:
            raise Stale(f"{method} {path}: the resource changed since it was read (HTTP 412)")
        body = self.api.parse(response, method, path)
        resource = body if isinstance(body, dict) else None
        return Written(resource, _etag(response, resource))

    def delete(self, endpoint: str, rid: str) -> bool:
        """``DELETE endpoint/rid``; False when it was already gone (404)."""
        path = f"{endpoint}/{rid}"
        response = self.api.request("DELETE", path, ok=(404,))
        return response.status_code != 404
