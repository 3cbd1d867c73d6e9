"""Discovery: the server's schemas decide which mapping keys exist; its features how to write."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from idsync import Change, Correlation, HookContext
from idsync_scim.testing import Scim2Server

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _ctx(**values: Any) -> HookContext:
    return HookContext(system="scim", **values)


def test_check_names_every_mapping_key_the_server_does_not_have(hook: Any) -> None:
    mapping = {
        "userName": None,
        "name.givenNme": None,
        f"{ENTERPRISE}:employeNumber": None,
        "urn:example:params:scim:schemas:extension:acme:2.0:User:badge": None,
        "meta.created": None,
        "active": None,
        "name": None,
        'emails[type eq "work"].value': None,
        'emails[value co "x"].type': None,
    }
    correlation = Correlation(person_field="external_id", account_field="externalid", value=None)
    result = hook.idsync_check_connection(ctx=_ctx(account=mapping, correlation=correlation))
    assert not result.success
    text = "\n".join(result.messages)
    assert "no attribute 'name.givenNme'; did you mean 'name.givenName'?" in text
    assert f"did you mean '{ENTERPRISE}:employeeNumber'?" in text
    assert "no schema extension urn:example:params:scim:schemas:extension:acme:2.0:User" in text
    assert "'meta.created' is set by the plugin itself" in text
    assert "'active' is set by the plugin itself: the enable and disable actions set it" in text
    assert "'name' is a complex attribute; map its sub-attributes (name.formatted," in text
    assert "selects an entry with one equality" in text
    assert len(result.messages) == 7  # userName and the work e-mail are fine


def test_check_passes_a_mapping_the_server_has(hook: Any) -> None:
    mapping = {
        "userName": None,
        "Name.GivenName": None,  # attribute names are not case-sensitive
        f"{ENTERPRISE}:department": None,
        'phoneNumbers[type eq "work"].value': None,
    }
    result = hook.idsync_check_connection(ctx=_ctx(account=mapping))
    assert result.success, result.messages
    assert "User at /Users (+ 1 extension(s)), Group at /Groups" in result.messages[0]
    assert "PATCH, ETags, filter (at most 1000)" in result.messages[0]


def test_a_create_with_a_key_the_server_lacks_sends_nothing(
    hook: Any, scim_server: Scim2Server
) -> None:
    before = len(scim_server.writes())
    result = hook.idsync_create(
        ctx=_ctx(account={"userName": f"x{uuid.uuid4().hex[:8]}", "name.givenNme": "Jan"})
    )
    assert not result.success
    assert "nothing sent" in result.messages[0]
    assert "did you mean 'name.givenName'?" in result.messages[0]
    assert len(scim_server.writes()) == before


def test_a_value_the_schema_refuses_sends_nothing(hook: Any, scim_server: Scim2Server) -> None:
    before = len(scim_server.writes())
    account = {"userName": f"x{uuid.uuid4().hex[:8]}", 'emails[type eq "work"].primary': "often"}
    result = hook.idsync_create(ctx=_ctx(account=account))
    assert not result.success
    assert "the User schema refuses the new resource" in result.messages[0]
    assert "emails" in result.messages[0]
    assert len(scim_server.writes()) == before
    created = hook.idsync_create(ctx=_ctx(account={"userName": f"y{uuid.uuid4().hex[:8]}"}))
    update = hook.idsync_update(
        ctx=_ctx(reference=created.reference, changes={"userName": Change(after=None)})
    )
    assert not update.success
    assert "userName" in update.messages[0]


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A scim2-server that announces no PATCH, no ETags and no filtering."""
    config = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": False},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": False, "maxResults": 1000},  # its page limit
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [],
    }
    folder = tmp_path_factory.mktemp("small")
    with Scim2Server(folder, token="small-server-token", service_provider_config=config) as server:
        yield server


def test_a_server_without_patch_etags_or_filters_gets_put_and_scans(
    small_server: Scim2Server, hook_for: Any
) -> None:
    hook = hook_for(small_server)
    number = uuid.uuid4().hex[:8]
    account = {"userName": f"s{number}@example.org", f"{ENTERPRISE}:employeeNumber": number}
    created = hook.idsync_create(ctx=_ctx(account=account))
    assert created.success, created.messages
    correlation = Correlation(
        person_field="x", account_field=f"{ENTERPRISE}:employeeNumber", value=number
    )
    found = hook.idsync_correlate(ctx=_ctx(correlation=correlation))
    assert [a.reference for a in found] == [created.reference]
    changes = {"title": Change(before=None, after="Boss")}
    assert hook.idsync_update(ctx=_ctx(reference=created.reference, changes=changes)).success
    assert hook.idsync_enable(ctx=_ctx(reference=created.reference)).success
    methods = {(r.method, r.path.split("?")[0]) for r in small_server.requests()}
    assert ("PUT", f"/v2/Users/{created.reference}") in methods
    assert not any(m == "PATCH" for m, _ in methods)
    assert not any("filter=" in r.path for r in small_server.requests())
    with small_server.client() as client:
        user = client.get(f"/Users/{created.reference}").json()
    assert user["title"] == "Boss"
    assert user["active"] is True
    assert user[ENTERPRISE]["employeeNumber"] == number


def test_discovery_off_assumes_the_rfc_schemas(make_hook: Any, scim_server: Scim2Server) -> None:
    hook = make_hook(discovery=False)
    mark = len(scim_server.requests())
    result = hook.idsync_check_connection(ctx=_ctx(account={"name.givenNme": None}))
    assert not result.success
    assert "did you mean 'name.givenName'?" in result.messages[0]
    paths = [r.path for r in scim_server.requests()[mark:]]
    assert not any(p.startswith(("/v2/Schemas", "/v2/ResourceTypes")) for p in paths)


def test_a_server_that_is_not_scim_fails_the_check_clearly(tmp_path: Path, hook_for: Any) -> None:
    from idsync.sandbox.simulator import serve

    async def not_scim(scope: Any, receive: Any, send: Any) -> None:
        body = b"<html><body>Welcome to nginx</body></html>"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with serve(not_scim) as server:
        hook = hook_for(Scim2Server(tmp_path, token="t0ken-x"), base_url=f"{server.url}/v2")
        result = hook.idsync_check_connection(ctx=_ctx())
    assert not result.success
    assert "not JSON" in result.messages[0]
