"""Recipes for talking to a vendor API with :class:`idsync.ApiClient`.

Each recipe is a small function a plugin can copy. ``tests/test_http_recipes.py`` runs every
one against a local server that answers as real APIs do, and the docs page "Talking to an
API" shows them (cog).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import httpx
from idsync import ApiClient, ApiError
from idsync.secrets import register_secret


# --8<-- [start:auth-bearer]
def bearer_client(base_url: str, token: str, system: str) -> ApiClient:
    """A token sent with every request; masked wherever a message could show it."""
    return ApiClient(base_url, headers={"Authorization": f"Bearer {token}"}, system=system)


# --8<-- [end:auth-bearer]


# --8<-- [start:auth-basic]
def basic_client(base_url: str, user: str, password: str, system: str) -> ApiClient:
    """HTTP Basic: httpx builds the header, ApiClient masks it."""
    return ApiClient(base_url, auth=httpx.BasicAuth(user, password), system=system)


# --8<-- [end:auth-basic]


# --8<-- [start:auth-oauth]
class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials: fetch a token when there is none, again on a 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.token: str | None = None

    def _take(self, answer: httpx.Response) -> None:
        answer.read()
        self.token = str(answer.json()["access_token"])
        register_secret(self.token)  # masked in messages and logs, like a configured secret

    def _fetch(self) -> httpx.Request:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}  # fmt: skip
        return httpx.Request("POST", self.token_url, data=form)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None:
            self._take((yield self._fetch()))
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:  # expired: one new token, one more try
            self._take((yield self._fetch()))
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def oauth_client(base_url: str, client_id: str, client_secret: str, system: str) -> ApiClient:
    """A client whose requests carry a token from the API's token endpoint."""
    auth = ClientCredentials(f"{base_url}/oauth/token", client_id, client_secret)
    return ApiClient(base_url, auth=auth, system=system)


# --8<-- [end:auth-oauth]


# --8<-- [start:not-found]
def find_user(api: ApiClient, user_id: str) -> dict[str, Any] | None:
    """One user, or None: a 404 is an answer here, not an error."""
    response = api.request("GET", f"/Users/{user_id}", ok=(404,))
    if response.status_code == 404:
        return None
    return dict(ApiClient.parse(response, "GET", f"/Users/{user_id}"))


# --8<-- [end:not-found]


# --8<-- [start:empty]
def delete_user(api: ApiClient, user_id: str) -> bool:
    """``DELETE`` answers 204 with no body: ``delete`` returns None. False when gone already."""
    try:
        api.delete(f"/Users/{user_id}")
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


# --8<-- [end:empty]


# --8<-- [start:paging]
def users(api: ApiClient, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every user, page by page (SCIM: ``startIndex`` from 1, ``count``, ``totalResults``)."""
    start = 1
    while True:
        page = api.get("/Users", params={"startIndex": start, "count": page_size})
        resources: list[dict[str, Any]] = page.get("Resources", [])
        yield from resources
        start += len(resources)
        if not resources or start > int(page["totalResults"]):
            return


# --8<-- [end:paging]


# --8<-- [start:etag]
def set_fields(api: ApiClient, user_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Write ``fields`` only if nobody changed the user since it was read (``If-Match``).

    A 412 means someone did: read again and try once more. A PATCH that sets values is safe
    to repeat, so it may be retried after a timeout too (``idempotent=True``). None when the
    user is gone.
    """
    for _ in range(2):
        read = api.request("GET", f"/Users/{user_id}", ok=(404,))
        if read.status_code == 404:
            return None
        current = read.json()
        todo = {k: v for k, v in fields.items() if current.get(k) != v}
        if not todo:
            return dict(current)  # already so: write nothing
        response = api.request(
            "PATCH",
            f"/Users/{user_id}",
            json=todo,
            headers={"If-Match": read.headers["ETag"]},
            ok=(404, 412),
            idempotent=True,
        )
        if response.status_code == 404:
            return None
        if response.status_code != 412:
            return dict(response.json())
    raise ApiError("changed by someone else twice while writing", method="PATCH",
                   path=f"/Users/{user_id}", status=412)  # fmt: skip


# --8<-- [end:etag]


# --8<-- [start:rate-limit]
def polite_client(base_url: str, token: str, system: str) -> ApiClient:
    """At most 5 requests a second, spaced evenly; a 429 is waited out (``Retry-After``)
    and slows the client down, and so is a 503."""
    return ApiClient(
        base_url,
        headers={"Authorization": f"Bearer {token}"},
        rate_limit=5.0,
        retries=5,
        max_backoff=30.0,
        system=system,
    )


# --8<-- [end:rate-limit]
