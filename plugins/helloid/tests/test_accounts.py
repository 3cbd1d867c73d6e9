"""The account hooks against the simulator: connect, correlate, create, update, enable,
disable, delete and the accounts import."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from idsync import ApiError, Change, Correlation, HookContext
from idsync.sandbox.simulator import Simulated, SimulatorServer
from idsync_helloid.simulator import HelloIDStore

MakeCtx = Callable[..., HookContext]


def _correlation(field: str, value: Any) -> Correlation:
    return Correlation(person_field="external_id", account_field=field, value=value)


# --- connection ---------------------------------------------------------------------------


def test_check_connection_passes_and_a_wrong_key_is_named(make_hook: Any, ctx: MakeCtx) -> None:
    good = make_hook().idsync_check_connection(ctx=ctx())
    assert good.success, good.messages
    bad = make_hook(api_secret="not-the-secret").idsync_check_connection(ctx=ctx())
    assert not bad.success
    assert "HTTP 401" in bad.messages[0]
    assert "api_key" in bad.messages[0]
    assert "not-the-secret" not in " ".join(bad.messages)


def test_check_connection_names_an_unreachable_tenant(make_hook: Any, ctx: MakeCtx) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = make_hook(
        base_url=f"http://127.0.0.1:{port}/api/v1", retries=0
    ).idsync_check_connection(ctx=ctx())
    assert not result.success
    assert "could not be reached" in result.messages[0]


def test_a_base_url_without_the_api_root_is_not_mistaken_for_user_not_found(
    make_hook: Any, ctx: MakeCtx, server: SimulatorServer
) -> None:
    hook = make_hook(base_url=f"{server.url}/wrong/v1")
    result = hook.idsync_check_connection(ctx=ctx())
    assert not result.success
    # A 404 from a wrong URL must not read as 'User not found'.
    with pytest.raises(ApiError, match="base_url"):
        hook.idsync_correlate(ctx=ctx(correlation=_correlation("userName", "a@b.c")))


# --- correlate and attribute_available ----------------------------------------------------


def test_correlate_by_user_name(
    hook: Any, ctx: MakeCtx, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("j.doe@enyoi.org", userAttributes={"employeeId": "1001"})
    found = hook.idsync_correlate(ctx=ctx(correlation=_correlation("userName", "J.Doe@enyoi.org")))
    assert [a.reference for a in found] == [guid]
    assert found[0].data["userAttributes.employeeId"] == "1001"
    assert found[0].enabled is True
    assert hook.idsync_correlate(ctx=ctx(correlation=_correlation("userName", "x@enyoi.org"))) == []
    # A user name that happens to be someone's GUID is not a user name match.
    assert hook.idsync_correlate(ctx=ctx(correlation=_correlation("userName", guid))) == []
    assert all(r.path.startswith("/api/v1/users/") for r in sim.log.all())


def test_correlate_by_another_field_pages_through_all_users(
    make_hook: Any, ctx: MakeCtx, add_user: Callable[..., str], store: HelloIDStore, sim: Simulated
) -> None:
    guids = [
        add_user(f"u{i}@enyoi.org", userAttributes={"employeeId": str(1000 + i)}) for i in range(7)
    ]
    twin = add_user("twin@enyoi.org", userAttributes={"employeeId": "1006"})
    store.delete_user(add_user("gone@enyoi.org", userAttributes={"employeeId": "1003"}))
    hook = make_hook(page_size=3)
    found = hook.idsync_correlate(
        ctx=ctx(correlation=_correlation("userAttributes.employeeId", 1003))
    )
    assert [a.reference for a in found] == [guids[3]]
    disputed = hook.idsync_correlate(
        ctx=ctx(correlation=_correlation("userAttributes.EmployeeId", "1006"))
    )
    assert sorted(a.reference for a in disputed) == sorted([guids[6], twin])
    assert hook.idsync_correlate(ctx=ctx(correlation=_correlation("contactEmail", None))) == []
    takes = [r.query for r in sim.log.all() if r.path == "/api/v1/users"]
    assert "skip=6&take=3" in takes


def test_attribute_available(hook: Any, ctx: MakeCtx, add_user: Callable[..., str]) -> None:
    mine = add_user("mine@enyoi.org", userAttributes={"employeeId": "7"})
    add_user("other@enyoi.org", userAttributes={"employeeId": "8"})

    def available(attribute: str, value: Any, reference: str | None = None) -> bool:
        return bool(
            hook.idsync_attribute_available(
                ctx=ctx(reference=reference), attribute=attribute, value=value
            )
        )

    assert available("userName", "free@enyoi.org")
    assert not available("userName", "Other@enyoi.org")
    assert not available("userName", "mine@enyoi.org")
    assert available("userName", "mine@enyoi.org", reference=mine)
    assert not available("userAttributes.employeeId", "8", reference=mine)
    assert available("userAttributes.employeeId", "7", reference=mine)
    assert available("userAttributes.employeeId", "9")


# --- create -------------------------------------------------------------------------------

ACCOUNT = {
    "userName": "c.bos@enyoi.org",
    "firstName": "Cásey",
    "lastName": "Bos",
    "contactEmail": "c.bos@enyoi.org",
    "userAttributes.employeeId": "123456789",
    "userAttributes.department": "Legal",
}


def test_create_makes_a_disabled_user_with_password_source_and_manager(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    boss = add_user("carl.dijk@enyoi.org")
    result = hook.idsync_create(ctx=ctx(account=ACCOUNT, manager_reference=boss))
    assert result.success, result.messages
    user = store.get_user(result.reference)
    assert user["isEnabled"] is False
    assert user["source"] == "Local"
    assert user["managedByUserGUID"] == boss
    assert user["mustChangePassword"] is True
    assert user["userAttributes"] == {"employeeId": "123456789", "department": "Legal"}
    password = store.passwords[result.reference]
    assert len(password) == 24
    assert result.data == ACCOUNT
    assert password not in repr(result)


def test_create_follows_the_password_source_and_manager_settings(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    boss = add_user("boss@enyoi.org")
    hook = make_hook(set_password=False, set_manager=False, source="enyoi.local")
    result = hook.idsync_create(ctx=ctx(account=ACCOUNT, manager_reference=boss))
    user = store.get_user(result.reference)
    assert (user["source"], user["managedByUserGUID"], user["mustChangePassword"]) == (
        "enyoi.local",
        None,
        False,
    )
    assert result.reference not in store.passwords
    mapped = make_hook().idsync_create(
        ctx=ctx(account={"userName": "x@enyoi.org", "source": "Mapped"})
    )
    assert store.get_user(mapped.reference)["source"] == "Mapped"


def test_create_refuses_a_taken_name_and_governed_keys_clearly(
    hook: Any, ctx: MakeCtx, add_user: Callable[..., str], sim: Simulated
) -> None:
    add_user("c.bos@enyoi.org")
    taken = hook.idsync_create(ctx=ctx(account=ACCOUNT))
    assert not taken.success
    assert "refused to create user c.bos@enyoi.org" in taken.messages[0]
    assert "already exists" in taken.messages[0]
    sim.log.clear()
    governed = hook.idsync_create(ctx=ctx(account={**ACCOUNT, "isEnabled": True, "password": "x"}))
    assert not governed.success
    assert "'isEnabled'" in governed.messages[0]
    assert "'password'" in governed.messages[0]
    nameless = hook.idsync_create(ctx=ctx(account={"firstName": "No"}))
    assert not nameless.success
    assert "userName" in nameless.messages[0]
    assert sim.log.writes() == []


def _soft_deleted(store: HelloIDStore, add_user: Callable[..., str]) -> str:
    """c.bos@enyoi.org, who left: soft-deleted, still in a group, old data."""
    guid = add_user(
        "c.bos@enyoi.org",
        isEnabled=True,
        source="enyoi.local",
        userAttributes={"employeeId": "123456789", "department": "Sales"},
    )
    store.add_member(guid, "department_SALES")
    store.delete_user(guid)
    return guid


@pytest.mark.parametrize("dry_run", [True, False])
def test_create_restores_a_soft_deleted_user_of_the_same_name(
    hook: Any,
    ctx: MakeCtx,
    store: HelloIDStore,
    add_user: Callable[..., str],
    sim: Simulated,
    dry_run: bool,
) -> None:
    guid = _soft_deleted(store, add_user)
    boss = add_user("carl.dijk@enyoi.org")
    sim.log.clear()
    result = hook.idsync_create(ctx=ctx(account=ACCOUNT, manager_reference=boss, dry_run=dry_run))
    assert result.success, result.messages
    if dry_run:
        assert result.messages == [
            f"dry-run: would restore soft-deleted HelloID user c.bos@enyoi.org ({guid}), disabled"
        ]
        assert sim.log.writes() == []
        assert store.get_user(guid)["isDeleted"] is True
        return
    assert result.reference == guid
    assert result.messages == [
        f"restored soft-deleted HelloID user c.bos@enyoi.org ({guid}), disabled"
    ]
    (put,) = sim.log.writes()
    assert (put.method, put.path) == ("PUT", f"/api/v1/users/{guid}")
    assert put.body["isSoftDeleted"] is False
    assert "isDeleted" not in put.body
    user = store.get_user(guid)
    assert (user["isDeleted"], user["isEnabled"], user["source"]) == (False, False, "enyoi.local")
    assert user["userAttributes"] == {"employeeId": "123456789", "department": "Legal"}
    assert (user["managedByUserGUID"], user["mustChangePassword"]) == (boss, True)
    assert store.passwords[guid] not in repr(result)
    assert [u["userGUID"] for u in store.users.values() if u["userName"] == "c.bos@enyoi.org"] == [
        guid
    ]


def test_create_beside_a_soft_deleted_user_when_so_configured(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    old = _soft_deleted(store, add_user)
    result = make_hook(soft_deleted_users="create").idsync_create(ctx=ctx(account=ACCOUNT))
    assert result.success, result.messages
    assert result.reference != old
    assert store.get_user(old)["isDeleted"] is True
    assert store.get_user(result.reference)["isDeleted"] is False


def test_a_soft_deleted_user_is_no_account_to_correlate_or_change(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = _soft_deleted(store, add_user)
    by_name = _correlation("userName", "c.bos@enyoi.org")
    assert hook.idsync_correlate(ctx=ctx(correlation=by_name)) == []
    assert hook.idsync_attribute_available(ctx=ctx(), attribute="userName", value="c.bos@enyoi.org")
    changes = {"lastName": Change(before="Test", after="Bos")}
    update = hook.idsync_update(ctx=ctx(reference=guid, changes=changes))
    assert (update.success, update.not_found) == (False, True)
    assert hook.idsync_disable(ctx=ctx(reference=guid)).not_found
    assert sim.log.writes() == []


# --- update -------------------------------------------------------------------------------


def _changes(**pairs: tuple[Any, Any]) -> dict[str, Change]:
    return {key.replace("__", "."): Change(before=b, after=a) for key, (b, a) in pairs.items()}


def test_update_writes_the_changes_over_the_current_object_and_merges_attributes(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user(
        "c.bos@enyoi.org",
        contactEmail="old@enyoi.org",
        immutableId="S-1-5-21-1",
        userAttributes={"department": "Legal", "title": "Lawyer", "phoneNumber": "+31"},
    )
    changes = _changes(lastName=("Test", "Bos"), userAttributes__department=("Legal", "Sales"))
    account = {
        "userName": "c.bos@enyoi.org",
        "lastName": "Bos",
        "userAttributes.department": "Sales",
    }
    result = hook.idsync_update(ctx=ctx(reference=guid, account=account, changes=changes))
    assert result.success, result.messages
    user = store.get_user(guid)
    assert user["lastName"] == "Bos"
    assert user["userAttributes"] == {
        "department": "Sales",
        "title": "Lawyer",
        "phoneNumber": "+31",
    }
    assert (user["contactEmail"], user["immutableId"]) == ("old@enyoi.org", "S-1-5-21-1")
    assert result.data == account
    (put,) = sim.log.writes()
    assert put.method == "PUT"
    assert put.body["userGUID"] == guid
    assert put.body["contactEmail"] == "old@enyoi.org"


def test_update_without_a_real_difference_writes_nothing(
    hook: Any, ctx: MakeCtx, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("same@enyoi.org", lastName="Same")
    result = hook.idsync_update(ctx=ctx(reference=guid, changes=_changes(lastName=("Old", "Same"))))
    assert result.success
    assert result.messages == ["no changes"]
    assert sim.log.writes() == []


def test_rename_is_refused_unless_allowed(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("c.bos@enyoi.org", lastName="Bos")
    changes = _changes(userName=("c.bos@enyoi.org", "c.dijk@enyoi.org"), lastName=("Bos", "Dijk"))
    refused = make_hook().idsync_update(ctx=ctx(reference=guid, changes=changes))
    assert not refused.success
    assert "renaming is not allowed" in refused.messages[0]
    assert "update_user_name" in refused.messages[0]
    user = store.get_user(guid)
    assert (user["userName"], user["lastName"]) == ("c.bos@enyoi.org", "Dijk")
    assert "IdentifierObject" not in sim.log.writes()[0].body

    allowed = make_hook(update_user_name=True).idsync_update(
        ctx=ctx(reference=guid, changes=changes)
    )
    assert allowed.success, allowed.messages
    assert store.get_user(guid)["userName"] == "c.dijk@enyoi.org"
    assert sim.log.writes()[-1].body["IdentifierObject"] == {"userName": "c.dijk@enyoi.org"}
    assert allowed.data["userName"] == "c.dijk@enyoi.org"


def test_rename_onto_a_taken_name_fails_with_the_reason(
    make_hook: Any, ctx: MakeCtx, add_user: Callable[..., str]
) -> None:
    guid = add_user("a@enyoi.org")
    add_user("b@enyoi.org")
    result = make_hook(update_user_name=True).idsync_update(
        ctx=ctx(reference=guid, changes=_changes(userName=("a@enyoi.org", "b@enyoi.org")))
    )
    assert not result.success
    assert "HTTP 409" in result.messages[0]
    assert "already exists" in result.messages[0]


def test_update_sets_the_manager_from_the_managers_reference(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    boss, other = add_user("boss@enyoi.org"), add_user("other@enyoi.org")
    guid = add_user("e@enyoi.org", managedByUserGUID=other)
    result = make_hook().idsync_update(ctx=ctx(reference=guid, manager_reference=boss))
    assert result.success
    assert "managedByUserGUID" in result.messages[0]
    assert store.get_user(guid)["managedByUserGUID"] == boss
    again = make_hook().idsync_update(ctx=ctx(reference=guid, manager_reference=boss))
    assert again.messages == ["no changes"]
    off = make_hook(set_manager=False).idsync_update(
        ctx=ctx(reference=guid, manager_reference=other)
    )
    assert off.messages == ["no changes"]
    assert len(sim.log.writes()) == 1


def test_update_of_a_missing_user_is_not_found(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("gone@enyoi.org")
    store.delete_user(guid)
    result = hook.idsync_update(ctx=ctx(reference=guid, changes=_changes(lastName=("a", "b"))))
    assert not result.success
    assert result.not_found


# --- enable, disable, delete --------------------------------------------------------------


def test_enable_and_disable_are_idempotent(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("e@enyoi.org", isEnabled=False, userAttributes={"title": "T"})
    assert hook.idsync_enable(ctx=ctx(reference=guid)).success
    assert store.get_user(guid)["isEnabled"] is True
    assert "already enabled" in hook.idsync_enable(ctx=ctx(reference=guid)).messages[0]
    assert hook.idsync_disable(ctx=ctx(reference=guid)).success
    assert store.get_user(guid)["isEnabled"] is False
    assert "already disabled" in hook.idsync_disable(ctx=ctx(reference=guid)).messages[0]
    assert store.get_user(guid)["userAttributes"] == {"title": "T"}
    assert [(w.method, w.body["isEnabled"]) for w in sim.log.writes()] == [
        ("PUT", True),
        ("PUT", False),
    ]


def test_disable_of_a_missing_user_is_a_warning_but_enable_fails(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("gone@enyoi.org")
    store.delete_user(guid)
    disabled = hook.idsync_disable(ctx=ctx(reference=guid))
    assert disabled.success
    assert disabled.not_found
    assert disabled.messages[0].startswith("warning:")
    enabled = hook.idsync_enable(ctx=ctx(reference=guid))
    assert not enabled.success
    assert enabled.not_found


def test_delete_and_delete_of_a_missing_user(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("leaver@enyoi.org")
    deleted = hook.idsync_delete(ctx=ctx(reference=guid, previous={"userName": "leaver@enyoi.org"}))
    assert deleted.success
    assert not deleted.not_found
    assert store.users[guid]["isDeleted"] is True
    again = hook.idsync_delete(ctx=ctx(reference=guid))
    assert again.success
    assert again.not_found
    assert "already deleted" in again.messages[0]
    never = hook.idsync_delete(ctx=ctx(reference="00000000-0000-4000-8000-000000000000"))
    assert never.success
    assert never.not_found


# --- accounts import ----------------------------------------------------------------------


def test_accounts_pages_through_users_and_deleted_ones_with_their_permissions(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guids = [add_user(f"u{i}@enyoi.org", isEnabled=i % 2 == 0) for i in range(8)]
    store.add_member(guids[0], "ICT Admins")
    store.add_member(guids[0], "department_SALES")
    laptop = next(p for p in store.products.values() if p["name"] == "Laptop")
    store.assign(laptop["productId"], guids[0])
    store.assign(laptop["productId"], guids[1])
    store.delete_user(guids[7])
    accounts = list(make_hook(page_size=3).idsync_accounts(ctx=ctx()))
    assert [a.reference for a in accounts] == guids
    first = accounts[0]
    assert first.permissions == ["group:ICT Admins", "group:department_SALES", "product:Laptop"]
    assert accounts[1].permissions == ["product:Laptop"]
    assert [a.enabled for a in accounts[:3]] == [True, False, True]
    assert accounts[-1].data["isDeleted"] is True
    assert accounts[0].data["userName"] == "u0@enyoi.org"
    queries = {r.query for r in sim.log.all() if r.path == "/api/v1/users"}
    assert {"skip=3&take=3", "skip=6&take=3", "isDeleted=true&skip=0&take=3"} <= queries
