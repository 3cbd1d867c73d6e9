"""The ApiClient recipes of the docs (``docs/writing-plugins/recipes/api.py``), each run against
a local server that answers as a SCIM-style API does: bearer, Basic and OAuth client-credentials
auth, 404s, empty 204s, paging, ETags with ``If-Match`` and a rate limit."""

from __future__ import annotations

import base64
import importlib.util
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import pytest
from idsync import ApiClient, ApiError
from idsync.sandbox.simulator import Faults, Simulated, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "writing-plugins" / "recipes" / "api.py"
TOKEN = "static-token-5c0ffee"
USER, PASSWORD = "idsync", "basic-password-77"
CLIENT_ID, CLIENT_SECRET = "idsync-client", "client-secret-1234"


@pytest.fixture(scope="module")
def recipes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("idsync_http_recipes", RECIPES)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Api:
    """The server's state: users with versions, issued tokens, and one meddling writer."""

    def __init__(self) -> None:
        self.users = {
            str(n): {"id": str(n), "userName": f"user{n}", "title": "Staff", "version": 1}
            for n in range(1, 8)
        }
        self.tokens: set[str] = set()
        self.issued = itertools.count(1)
        self.meddle = False

    def allowed(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return given in (f"Bearer {TOKEN}", f"Basic {basic}") or (
            given.startswith("Bearer ") and given[7:] in self.tokens
        )

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = f"issued-{next(self.issued)}"
            self.tokens = {issued}  # the one valid token
            return JSONResponse({"access_token": issued, "token_type": "Bearer"})

        async def users(request: Request) -> Response:
            if not self.allowed(request):
                return JSONResponse({"detail": "unauthorized"}, status_code=401)
            start = int(request.query_params.get("startIndex", 1))
            count = int(request.query_params.get("count", 100))
            listed = list(self.users.values())
            page = listed[start - 1 : start - 1 + count]
            return JSONResponse({"totalResults": len(listed), "Resources": page})

        async def user(request: Request) -> Response:
            if not self.allowed(request):
                return JSONResponse({"detail": "unauthorized"}, status_code=401)
            found = self.users.get(request.path_params["id"])
            if found is None:
                return JSONResponse({"detail": "User not found"}, status_code=404)
            if request.method == "DELETE":
                del self.users[found["id"]]
                return Response(status_code=204)
            if request.method == "PATCH":
                if request.headers.get("if-match") != f'W/"{found["version"]}"':
                    return JSONResponse({"detail": "version mismatch"}, status_code=412)
                if self.meddle:  # someone else wrote in between
                    self.meddle = False
                    found["version"] += 1
                    return JSONResponse({"detail": "version mismatch"}, status_code=412)
                found.update(await request.json())
                found["version"] += 1
            etag = {"ETag": f'W/"{found["version"]}"'}
            return JSONResponse(found, headers=etag)

        return Starlette(
            routes=[
                Route("/oauth/token", token, methods=["POST"]),
                Route("/Users", users),
                Route("/Users/{id}", user, methods=["GET", "PATCH", "DELETE"]),
            ]
        )


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def sim(api: Api) -> Simulated:
    return Simulated(api.app(), Faults(rate_limit=8.0))


@pytest.fixture
def url(sim: Simulated) -> Iterator[str]:
    with serve(sim) as server:
        yield server.url


def test_bearer_basic_and_oauth_clients_are_let_in(recipes: ModuleType, url: str, api: Api) -> None:
    clients = [
        recipes.bearer_client(url, TOKEN, "scim"),
        recipes.basic_client(url, USER, PASSWORD, "scim"),
        recipes.oauth_client(url, CLIENT_ID, CLIENT_SECRET, "scim"),
    ]
    for client in clients:
        with client:
            assert client.get("/Users/1")["userName"] == "user1"
    with ApiClient(url, retries=0) as anonymous, pytest.raises(ApiError) as refused:
        anonymous.get("/Users/1")
    assert refused.value.status == 401


def test_an_expired_oauth_token_is_fetched_again(recipes: ModuleType, url: str, api: Api) -> None:
    with recipes.oauth_client(url, CLIENT_ID, CLIENT_SECRET, "scim") as client:
        client.get("/Users/1")
        api.tokens = set()  # the token expires
        assert client.get("/Users/2")["userName"] == "user2"
    assert next(api.issued) == 3  # two tokens were issued


def test_a_404_is_an_answer_and_an_empty_204_is_none(
    recipes: ModuleType, url: str, api: Api
) -> None:
    with recipes.bearer_client(url, TOKEN, "scim") as client:
        assert recipes.find_user(client, "404") is None
        assert recipes.find_user(client, "3")["userName"] == "user3"
        assert recipes.delete_user(client, "3") is True
        assert recipes.delete_user(client, "3") is False
    assert "3" not in api.users


def test_paging_reads_every_user(recipes: ModuleType, url: str) -> None:
    with recipes.bearer_client(url, TOKEN, "scim") as client:
        names = [u["userName"] for u in recipes.users(client, page_size=3)]
    assert names == [f"user{n}" for n in range(1, 8)]


def test_etags_write_only_over_what_was_read(
    recipes: ModuleType, url: str, api: Api, sim: Simulated
) -> None:
    with recipes.bearer_client(url, TOKEN, "scim") as client:
        api.meddle = True
        written = recipes.set_fields(client, "4", {"title": "Teamleider"})
        assert written["title"] == "Teamleider"
        sim.log.clear()
        assert recipes.set_fields(client, "4", {"title": "Teamleider"})["title"] == "Teamleider"
        assert sim.log.writes() == []  # already so: nothing written
        assert recipes.set_fields(client, "404", {"title": "x"}) is None
    assert api.users["4"]["version"] == 3  # the meddler's write, then ours


def test_the_polite_client_stays_under_the_rate_limit(
    recipes: ModuleType, url: str, sim: Simulated
) -> None:
    with recipes.polite_client(url, TOKEN, "scim") as client:
        for n in range(12):
            client.get(f"/Users/{n % 7 + 1}")
    statuses = [r.status for r in sim.log.all()]
    assert statuses == [200] * 12, statuses


def test_a_rate_limit_is_waited_out(recipes: ModuleType, url: str, sim: Simulated) -> None:
    sim.faults.rate_limit = 2.0
    answers: list[Any] = []
    with ApiClient(url, headers={"Authorization": f"Bearer {TOKEN}"}, max_backoff=3) as client:
        for n in range(4):
            answers.append(client.get(f"/Users/{n + 1}"))
    assert [a["id"] for a in answers] == ["1", "2", "3", "4"]
    assert 429 in [r.status for r in sim.log.all()]
