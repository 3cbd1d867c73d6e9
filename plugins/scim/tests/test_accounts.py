"""Accounts on a real scim2-server: correlation by filter, PATCH with ETags, paging, groups."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from idsync import Change, Correlation, HookContext, Permission
from idsync_scim.testing import Scim2Server

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EMPLOYEE = f"{ENTERPRISE}:employeeNumber"
DEPARTMENT = f"{ENTERPRISE}:department"
WORK_MAIL = 'emails[type eq "work"].value'

Ctx = Callable[..., HookContext]


def _name() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.org"


def _correlate(hook: Any, ctx: Ctx, field: str, value: Any, **extra: Any) -> list[Any]:
    found: list[Any] = hook.idsync_correlate(
        ctx=ctx(
            correlation=Correlation(person_field="x", account_field=field, value=value), **extra
        )
    )
    return found


def _since(server: Scim2Server, mark: int) -> list[tuple[str, str]]:
    return [(r.method, r.path.split("?")[0]) for r in server.requests()[mark:]]


def test_correlation_filters_on_any_attribute_as_scim_compares(
    hook: Any, ctx: Ctx, add_user: Callable[..., dict[str, Any]]
) -> None:
    name = _name()
    number = uuid.uuid4().hex[:8]
    user = add_user(
        name,
        externalId=f"AFAS-{number}",
        emails=[{"type": "work", "value": name}],
        **{ENTERPRISE: {"employeeNumber": number}},
    )
    for field, value in [
        ("userName", name.upper()),  # userName is not case-exact in SCIM
        ("externalId", f"AFAS-{number}"),
        (EMPLOYEE, number),
        (WORK_MAIL, name),
    ]:
        found = _correlate(hook, ctx, field, value)
        assert [a.reference for a in found] == [user["id"]], field
        assert found[0].data[EMPLOYEE] == number
        assert found[0].data[WORK_MAIL] == name
        assert found[0].enabled is True
    assert _correlate(hook, ctx, "externalId", f"afas-{number}") == []  # externalId is case-exact
    assert _correlate(hook, ctx, "userName", 'no"body\\here') == []  # quoted, not injected


def test_two_holders_are_both_returned(
    hook: Any, ctx: Ctx, add_user: Callable[..., dict[str, Any]]
) -> None:
    number = uuid.uuid4().hex[:8]
    first = add_user(_name(), **{ENTERPRISE: {"employeeNumber": number}})
    second = add_user(_name(), **{ENTERPRISE: {"employeeNumber": number}})
    found = _correlate(hook, ctx, EMPLOYEE, number)
    assert sorted(a.reference for a in found) == sorted([first["id"], second["id"]])


def test_create_writes_the_extension_and_typed_entries_inactive(
    hook: Any, ctx: Ctx, api: httpx.Client
) -> None:
    name = _name()
    account = {
        "userName": name,
        "name.givenName": "Anna",
        "name.familyName": "van der Berg",
        WORK_MAIL: name,
        'emails[type eq "work"].primary': True,
        'phoneNumbers[type eq "mobile"].value': "+31 6 1234 5678",
        EMPLOYEE: "1002",
        DEPARTMENT: "ICT",
    }
    result = hook.idsync_create(ctx=ctx(account=account))
    assert result.success, result.messages
    user = api.get(f"/Users/{result.reference}").json()
    assert user["active"] is False
    assert user["name"] == {"givenName": "Anna", "familyName": "van der Berg"}
    assert user["emails"] == [{"type": "work", "value": name, "primary": True}]
    assert user["phoneNumbers"] == [{"type": "mobile", "value": "+31 6 1234 5678"}]
    assert user[ENTERPRISE] == {"employeeNumber": "1002", "department": "ICT"}
    assert ENTERPRISE in user["schemas"]
    assert result.data == account


def test_update_patches_only_the_changes_and_keeps_what_others_wrote(
    hook: Any, ctx: Ctx, api: httpx.Client, scim_server: Scim2Server
) -> None:
    account = {"userName": _name(), "title": "Sales", DEPARTMENT: "Sales"}
    reference = hook.idsync_create(ctx=ctx(account=account)).reference
    # Someone else changes the user meanwhile: the update must not undo it.
    etag = api.get(f"/Users/{reference}").headers["ETag"]
    patched = api.patch(
        f"/Users/{reference}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "nickName", "value": "Pim"}],
        },
    )
    assert patched.status_code == 204
    mark = len(scim_server.requests())
    changes = {DEPARTMENT: Change(before="Sales", after="HR")}
    result = hook.idsync_update(
        ctx=ctx(reference=reference, account={**account, DEPARTMENT: "HR"}, changes=changes)
    )
    assert result.success, result.messages
    assert result.data[DEPARTMENT] == "HR"
    # The remembered ETag was stale: 412, read again, PATCH again; nothing else.
    assert _since(scim_server, mark) == [
        ("PATCH", f"/v2/Users/{reference}"),
        ("GET", f"/v2/Users/{reference}"),
        ("PATCH", f"/v2/Users/{reference}"),
    ]
    assert [r.status for r in scim_server.requests()[mark:]] == [412, 200, 204]
    user = api.get(f"/Users/{reference}")
    assert user.json()["nickName"] == "Pim"
    assert user.json()[ENTERPRISE]["department"] == "HR"
    assert user.json()["title"] == "Sales"
    assert user.headers["ETag"] != etag


def test_a_conflict_that_persists_fails_that_update_only(
    make_hook: Any, ctx: Ctx, api: httpx.Client
) -> None:
    hook = make_hook(conflict_retries=0)
    reference = hook.idsync_create(ctx=ctx(account={"userName": _name()})).reference
    api.patch(
        f"/Users/{reference}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "title", "value": "Someone else's"}],
        },
    )
    result = hook.idsync_update(
        ctx=ctx(reference=reference, changes={"title": Change(before=None, after="Mine")})
    )
    assert not result.success
    assert result.retriable
    assert "412" in result.messages[0]
    assert api.get(f"/Users/{reference}").json()["title"] == "Someone else's"


def test_an_update_with_nothing_to_change_keeps_the_etag(
    hook: Any, ctx: Ctx, api: httpx.Client, scim_server: Scim2Server
) -> None:
    account = {"userName": _name(), "title": "Sales"}
    reference = hook.idsync_create(ctx=ctx(account=account)).reference
    etag = api.get(f"/Users/{reference}").headers["ETag"]
    before = len(scim_server.writes())
    changes = {"title": Change(before="Old", after="Sales")}
    result = hook.idsync_update(ctx=ctx(reference=reference, account=account, changes=changes))
    assert result.messages == ["no changes"]
    assert len(scim_server.writes()) == before
    assert api.get(f"/Users/{reference}").headers["ETag"] == etag


def test_a_joiner_active_now_is_created_active_in_one_write(
    hook: Any, ctx: Ctx, api: httpx.Client, scim_server: Any
) -> None:
    before = len(scim_server.writes())
    result = hook.idsync_create(ctx=ctx(account={"userName": _name()}, active=True))
    assert result.success, result.messages
    assert result.enabled is True  # the engine records the enable as done by the create
    assert api.get(f"/Users/{result.reference}").json()["active"] is True
    assert len(scim_server.writes()) == before + 1


def test_enable_and_disable_set_active(hook: Any, ctx: Ctx, api: httpx.Client) -> None:
    reference = hook.idsync_create(ctx=ctx(account={"userName": _name()})).reference
    assert hook.idsync_enable(ctx=ctx(reference=reference)).success
    assert api.get(f"/Users/{reference}").json()["active"] is True
    assert hook.idsync_disable(ctx=ctx(reference=reference)).success
    assert api.get(f"/Users/{reference}").json()["active"] is False


def test_a_patch_answered_with_the_resource_is_read_from_the_answer(
    make_hook: Any, ctx: Ctx, gateway: Any, api: httpx.Client
) -> None:
    app, served = gateway
    app.extra_query["PATCH"] = "excludedAttributes=groups"  # scim2-server then answers 200
    hook = make_hook(base_url=f"{served.url}/v2")
    reference = hook.idsync_create(ctx=ctx(account={"userName": _name()})).reference
    changes = {"title": Change(before=None, after="Boss")}
    result = hook.idsync_update(ctx=ctx(reference=reference, changes=changes))
    assert result.success, result.messages
    assert ("PATCH", f"/v2/Users/{reference}", 200) in app.log
    assert result.data == {"title": "Boss"}
    assert hook.idsync_enable(ctx=ctx(reference=reference)).success
    assert api.get(f"/Users/{reference}").json()["active"] is True


def test_accounts_are_read_in_pages_with_their_groups(
    make_hook: Any,
    ctx: Ctx,
    scim_server: Scim2Server,
    add_user: Callable[..., dict[str, Any]],
    add_group: Callable[..., dict[str, Any]],
) -> None:
    for _ in range(5):
        add_user(_name())
    member = add_user(_name())
    group = f"Paged {uuid.uuid4().hex[:6]}"
    add_group(group, [member["id"]])
    hook = make_hook(page_size=2, concurrency=3)
    mark = len(scim_server.requests())
    listed = {a.reference: a for a in hook.idsync_accounts(ctx=ctx())}
    with scim_server.client() as client:
        total = client.get("/Users", params={"count": 0}).json()["totalResults"]
    assert len(listed) == total
    assert f"group:{group}" in listed[member["id"]].permissions
    reads = [r.path for r in scim_server.requests()[mark:] if r.path.startswith("/v2/Users?")]
    pages = [p for p in reads if "count=0" not in p]  # the test's own count above
    assert len(pages) == (total + 1) // 2
    assert all("count=2" in p for p in pages)
    assert {p.split("startIndex=")[1].split("&")[0] for p in pages} == {
        str(start) for start in range(1, total + 1, 2)
    }


def test_groups_are_granted_revoked_and_made(
    hook: Any, ctx: Ctx, api: httpx.Client, scim_server: Scim2Server
) -> None:
    reference = hook.idsync_create(ctx=ctx(account={"userName": _name()})).reference
    name = f"department_{uuid.uuid4().hex[:6]}"
    made = hook.idsync_resource(ctx=ctx(permission=Permission(kind="group", name=name)))
    assert made.success
    assert made.messages == [f"created group {name!r}"]
    permission = Permission(kind="group", name=name.upper())  # displayName is not case-exact
    mark = len(scim_server.requests())
    granted = hook.idsync_grant(ctx=ctx(reference=reference, permission=permission))
    assert granted.success
    assert granted.reference == made.reference
    # A user this instance created is in no group yet: the grant is one PATCH.
    assert _since(scim_server, mark) == [("PATCH", f"/v2/Groups/{made.reference}")]
    members = api.get(f"/Groups/{made.reference}").json()["members"]
    assert members == [{"value": reference}]
    revoked = hook.idsync_revoke(ctx=ctx(reference=reference, permission=permission))
    assert revoked.success
    assert not revoked.not_found
    assert "members" not in api.get(f"/Groups/{made.reference}").json()


def test_a_group_never_gets_a_member_that_does_not_exist(
    hook: Any, ctx: Ctx, api: httpx.Client, add_group: Callable[..., dict[str, Any]]
) -> None:
    # scim2-server keeps no referential integrity: it would take any id as a member.
    group = add_group(f"Integrity {uuid.uuid4().hex[:6]}")
    ghost = uuid.uuid4().hex
    permission = Permission(kind="group", name=group["displayName"])
    result = hook.idsync_grant(ctx=ctx(reference=ghost, permission=permission))
    assert not result.success
    assert result.not_found
    assert ghost in result.messages[0]
    assert "members" not in api.get(f"/Groups/{group['id']}").json()


def test_delete_takes_the_user_out_of_every_group_first(
    hook: Any,
    ctx: Ctx,
    api: httpx.Client,
    add_user: Callable[..., dict[str, Any]],
    add_group: Callable[..., dict[str, Any]],
) -> None:
    # scim2-server would leave a deleted user's id behind in its groups.
    user = add_user(_name())
    other = add_user(_name())
    groups = [add_group(f"Leaver {uuid.uuid4().hex[:6]}", [user["id"], other["id"]]) for _ in "ab"]
    result = hook.idsync_delete(ctx=ctx(reference=user["id"]))
    assert result.success, result.messages
    assert api.get(f"/Users/{user['id']}").status_code == 404
    for group in groups:
        assert api.get(f"/Groups/{group['id']}").json()["members"] == [{"value": other["id"]}]
    again = hook.idsync_delete(ctx=ctx(reference=user["id"]))
    assert again.success
    assert again.not_found
