"""A server that is busy, refuses or echoes: each fails only its action, clearly, no secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from idsync import Change, HookContext, Permission
from idsync_scim.testing import Scim2Server
from loguru import logger

TOKEN = "scim-test-token-5f1c2a9e"  # the shared server's (conftest.TOKEN)


def _ctx(**values: Any) -> HookContext:
    return HookContext(system="scim", **values)


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Every log line (any level) written while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="TRACE")
    yield lines
    logger.remove(sink)


def _user(hook: Any) -> str:
    result = hook.idsync_create(ctx=_ctx(account={"userName": f"b{uuid.uuid4().hex[:8]}"}))
    assert result.success, result.messages
    return str(result.reference)


def test_a_busy_answer_is_waited_out(make_hook: Any, gateway: Any, api: Any) -> None:
    app, served = gateway
    hook = make_hook(base_url=f"{served.url}/v2")
    reference = _user(hook)
    busy = app.refuse("PATCH", f"/Users/{reference}", 429, times=2, retry_after="0")
    result = hook.idsync_enable(ctx=_ctx(reference=reference))
    assert result.success, result.messages
    assert busy.hits == 2
    assert api.get(f"/Users/{reference}").json()["active"] is True


def test_a_server_that_stays_busy_fails_only_that_action(
    make_hook: Any, gateway: Any, api: Any, logged: list[str]
) -> None:
    app, served = gateway
    hook = make_hook(base_url=f"{served.url}/v2", retries=2)
    stuck, fine = _user(hook), _user(hook)
    app.refuse("PATCH", f"/Users/{stuck}", 503, retry_after="1")
    changes = {"title": Change(before=None, after="Engineer")}
    failed = hook.idsync_update(ctx=_ctx(reference=stuck, changes=changes))
    done = hook.idsync_update(ctx=_ctx(reference=fine, changes=changes))
    assert not failed.success
    assert failed.retriable
    assert failed.messages == [
        f"update failed: PATCH /Users/{stuck}: HTTP 503: The service is busy; try again later"
    ]
    assert done.success
    assert "title" not in api.get(f"/Users/{stuck}").json()
    assert api.get(f"/Users/{fine}").json()["title"] == "Engineer"
    tries = [e for e in app.log if e[0] == "PATCH" and e[1].endswith(stuck)]
    assert len(tries) == 3  # the first and two retries
    assert not any(TOKEN in line for line in logged)


def test_a_busy_create_is_not_repeated_blindly(make_hook: Any, gateway: Any) -> None:
    app, served = gateway
    hook = make_hook(base_url=f"{served.url}/v2", retries=2)
    app.refuse("POST", "/Users", 502)
    result = hook.idsync_create(ctx=_ctx(account={"userName": f"c{uuid.uuid4().hex[:8]}"}))
    assert not result.success
    assert result.retriable
    assert "HTTP 502" in result.messages[0]
    # A 502 to a POST may have been done: the next run correlates before creating again.
    assert [e for e in app.log if e[0] == "POST"] == [("POST", "/v2/Users", 502)]


def test_refused_credentials_are_named_and_never_echoed(
    make_hook: Any, gateway: Any, logged: list[str]
) -> None:
    app, served = gateway
    echo = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "401",
        "detail": f"Bearer {TOKEN} is not valid here",
    }
    app.refuse("GET", "/Users", 401, body=echo)
    hook = make_hook(base_url=f"{served.url}/v2")
    result = hook.idsync_check_connection(ctx=_ctx())
    assert not result.success
    assert "refused the token (HTTP 401)" in result.messages[0]
    assert TOKEN not in " ".join(result.messages)
    assert "***" in result.messages[0]
    grant = hook.idsync_grant(
        ctx=_ctx(reference=uuid.uuid4().hex, permission=Permission(kind="group", name="X"))
    )
    assert not grant.success
    assert TOKEN not in " ".join(grant.messages)
    assert not any(TOKEN in line for line in logged)


def test_a_wrong_token_fails_the_check(tmp_path: Path, hook_for: Any) -> None:
    with Scim2Server(tmp_path, token="the-right-token") as server:
        hook = hook_for(server, token="a-wrong-token")
        result = hook.idsync_check_connection(ctx=_ctx())
    assert not result.success
    assert "the SCIM server refused the token (HTTP 401)" in result.messages[0]


def test_basic_authentication(tmp_path: Path, hook_for: Any) -> None:
    with Scim2Server(tmp_path, basic=("idsync", "b4sic-pa55word")) as server:
        hook = hook_for(server)
        checked = hook.idsync_check_connection(ctx=_ctx())
        assert checked.success, checked.messages
        reference = _user(hook)
        assert hook.idsync_enable(ctx=_ctx(reference=reference)).success
        wrong = hook_for(server, password="not-the-password").idsync_check_connection(ctx=_ctx())
        statuses = [r.status for r in server.requests()]
    assert not wrong.success
    assert "refused the user name and password (HTTP 401)" in wrong.messages[0]
    assert "b4sic-pa55word" not in " ".join(wrong.messages)
    assert statuses.count(401) == 1
