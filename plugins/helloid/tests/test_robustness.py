"""Dry-run, rate-limit storms, flaky servers and garbage answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from idsync import ApiError, Change, Correlation, HookContext, Permission
from idsync.sandbox.simulator import Simulated, SimulatorServer, serve
from idsync_helloid.simulator import HelloIDStore
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MakeCtx = Callable[..., HookContext]


def test_dry_run_reads_but_never_writes(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    hook = make_hook(update_user_name=True)
    boss = add_user("boss@enyoi.org")
    guid = add_user("d@enyoi.org", isEnabled=False, userAttributes={"title": "A"})
    store.add_member(guid, "department_SALES")
    laptop = next(p["productId"] for p in store.products.values() if p["name"] == "Laptop")
    store.assign(laptop, guid)
    before = store.get_user(guid)

    def on(permission: str) -> HookContext:
        return ctx(dry_run=True, reference=guid, permission=Permission.parse(permission))

    changes = {
        "userName": Change(before="d@enyoi.org", after="e@enyoi.org"),
        "userAttributes.title": Change(before="A", after="B"),
    }
    results = [
        hook.idsync_create(ctx=ctx(dry_run=True, account={"userName": "new@enyoi.org"})),
        hook.idsync_update(
            ctx=ctx(dry_run=True, reference=guid, changes=changes, manager_reference=boss)
        ),
        hook.idsync_enable(ctx=ctx(dry_run=True, reference=guid)),
        hook.idsync_grant(ctx=on("group:ICT Admins")),
        hook.idsync_grant(ctx=on("product:VPN access")),
        hook.idsync_revoke(ctx=on("group:department_SALES")),
        hook.idsync_revoke(ctx=on("product:Laptop")),
        hook.idsync_resource(
            ctx=ctx(dry_run=True, permission=Permission.parse("group:department_NEW"))
        ),
        hook.idsync_disable(ctx=ctx(dry_run=True, reference=boss)),
        hook.idsync_delete(ctx=ctx(dry_run=True, reference=guid)),
    ]
    assert all(r.success for r in results), [r.messages for r in results]
    assert all(r.messages[0].startswith("dry-run: would") for r in results), [
        r.messages for r in results
    ]
    assert results[0].reference is None
    assert results[1].data == {"userName": "e@enyoi.org", "userAttributes.title": "B"}
    assert sim.log.writes() == []
    assert len(sim.log) >= 9  # reads happened
    assert store.get_user(guid) == before
    assert store.memberships(guid) == {"department_SALES"}
    assert store.products_of(guid) == ["Laptop"]


def test_a_429_storm_is_survived_with_every_action_done_exactly_once(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, sim: Simulated
) -> None:
    hook = make_hook(retries=100, backoff=0.005, max_backoff=0.05, concurrency=6)
    sim.faults.rate_limit = 40
    names = [f"storm{i}@enyoi.org" for i in range(10)]

    def lifecycle(name: str) -> list[bool]:
        created = hook.idsync_create(ctx=ctx(account={"userName": name, "lastName": "Storm"}))
        assert created.success, created.messages
        guid = created.reference
        steps = [
            hook.idsync_grant(
                ctx=ctx(reference=guid, permission=Permission.parse("group:department_SALES"))
            ),
            hook.idsync_grant(
                ctx=ctx(reference=guid, permission=Permission.parse("product:Laptop"))
            ),
            hook.idsync_enable(ctx=ctx(reference=guid)),
        ]
        return [created.success] + [s.success for s in steps]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lifecycle, names))
    sim.faults.rate_limit = None
    assert all(all(o) for o in outcomes)
    log = sim.log.all()
    assert sum(r.status == 429 for r in log) > 10
    done = Counter(
        (r.method, r.path.split("/")[3] + ("/groups" if r.path.endswith("/groups") else ""))
        for r in log
        if r.is_write and 200 <= r.status < 300
    )
    assert done == {
        ("POST", "users"): 10,
        ("POST", "users/groups"): 10,
        ("POST", "selfservice"): 10,
        ("PUT", "users"): 10,
    }
    users = [u for u in store.users.values() if u["userName"].startswith("storm")]
    assert sorted(u["userName"] for u in users) == sorted(names)
    assert all(u["isEnabled"] for u in users)
    assert all(store.products_of(u["userGUID"]) == ["Laptop"] for u in users)
    assert all(store.memberships(u["userGUID"]) == {"department_SALES"} for u in users)


def test_server_errors_and_dropped_connections_on_reads_and_puts_are_retried(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guids = [add_user(f"f{i}@enyoi.org", isEnabled=False) for i in range(6)]
    hook = make_hook(retries=20, page_size=2)
    sim.faults.update({"error_rate": 0.25, "drop_rate": 0.15})
    for guid in guids:
        assert hook.idsync_enable(ctx=ctx(reference=guid)).success
    accounts = list(hook.idsync_accounts(ctx=ctx()))
    sim.faults.update({"error_rate": 0.0, "drop_rate": 0.0})
    assert [a.reference for a in accounts] == guids
    assert all(store.get_user(g)["isEnabled"] for g in guids)
    assert any(r.fault == "error" for r in sim.log.all())


# --- garbage answers ----------------------------------------------------------------------

HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


def _garbage_app() -> Starlette:
    async def html(request: Request) -> Response:
        return Response(HTML, status_code=200, media_type="text/html")

    async def html_502(request: Request) -> Response:
        return Response(HTML, status_code=502, media_type="text/html")

    async def truncated(request: Request) -> Response:
        return Response('{"userGUID": "5b2c0f9e-1", "userNa', media_type="application/json")

    async def wrong_shape(request: Request) -> Response:
        return JSONResponse({"groups": "none"})

    return Starlette(
        routes=[
            Route("/api/v1/users", html_502, methods=["GET"]),
            Route("/api/v1/users", truncated, methods=["POST"]),
            Route("/api/v1/users/{user}", html, methods=["GET"]),
            Route("/api/v1/groups", wrong_shape, methods=["GET"]),
            Route("/api/v1/groups/{group}", wrong_shape, methods=["GET"]),
        ]
    )


@pytest.fixture
def garbage_url() -> Iterator[str]:
    with serve(_garbage_app()) as garbage:
        yield f"{garbage.url}/api/v1"


@pytest.fixture
def garbage_hook(make_hook: Any, garbage_url: str) -> Any:
    return make_hook(base_url=garbage_url, retries=1)


def test_a_truncated_json_answer_fails_the_create_clearly(
    make_hook: Any, garbage_url: str, ctx: MakeCtx
) -> None:
    hook = make_hook(base_url=garbage_url, retries=1, soft_deleted_users="create")
    result = hook.idsync_create(ctx=ctx(account={"userName": "x@enyoi.org"}))
    assert not result.success
    assert result.messages[0].startswith("create failed: POST /users:")
    assert "not JSON" in result.messages[0]


def test_an_html_page_fails_the_soft_deleted_lookup_of_a_create_clearly(
    garbage_hook: Any, ctx: MakeCtx
) -> None:
    result = garbage_hook.idsync_create(ctx=ctx(account={"userName": "x@enyoi.org"}))
    assert not result.success
    assert result.messages[0].startswith("create failed: GET /users/x%40enyoi.org:")
    assert "HTML page" in result.messages[0]


def test_an_html_page_fails_update_enable_and_connection_clearly(
    garbage_hook: Any, ctx: MakeCtx
) -> None:
    changes = {"lastName": Change(before="a", after="b")}
    update = garbage_hook.idsync_update(ctx=ctx(reference="5b2c0f9e-1", changes=changes))
    assert not update.success
    assert "GET /users/5b2c0f9e-1" in update.messages[0]
    assert "HTML page" in update.messages[0]
    assert not garbage_hook.idsync_enable(ctx=ctx(reference="5b2c0f9e-1")).success
    check = garbage_hook.idsync_check_connection(ctx=ctx())
    assert not check.success
    assert "HTTP 502" in check.messages[0]
    assert "HTML page" in check.messages[0]


def test_a_wrong_shaped_answer_fails_grant_and_import_clearly(
    garbage_hook: Any, ctx: MakeCtx
) -> None:
    grant = garbage_hook.idsync_grant(
        ctx=ctx(reference="u", permission=Permission.parse("group:X"))
    )
    assert not grant.success
    assert "where a group object was expected" in grant.messages[0]
    with pytest.raises(ApiError, match="where a list of objects was expected"):
        list(garbage_hook.idsync_accounts(ctx=ctx()))
    with pytest.raises(ApiError, match="HTML page"):
        garbage_hook.idsync_correlate(
            ctx=ctx(correlation=Correlation(person_field="p", account_field="userName", value="x"))
        )


def test_no_secret_in_any_message(make_hook: Any, ctx: MakeCtx, server: SimulatorServer) -> None:
    hook = make_hook(api_key="SECRET-KEY-123", api_secret="SECRET-456")
    results = [
        hook.idsync_check_connection(ctx=ctx()),
        hook.idsync_create(ctx=ctx(account={"userName": "x@enyoi.org"})),
        hook.idsync_grant(ctx=ctx(reference="u", permission=Permission.parse("group:X"))),
    ]
    text = " ".join(m for r in results for m in r.messages)
    assert "401" in text
    assert "SECRET" not in text
