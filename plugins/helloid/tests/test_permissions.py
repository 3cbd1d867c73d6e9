"""Groups and self-service products: listing, grant, revoke, and department groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from idsync import HookContext, Permission
from idsync.sandbox.simulator import Simulated
from idsync_helloid.simulator import HelloIDStore

MakeCtx = Callable[..., HookContext]


def _on(ctx: MakeCtx, reference: str, permission: str, **values: Any) -> HookContext:
    return ctx(reference=reference, permission=Permission.parse(permission), **values)


def test_permissions_lists_groups_and_products_with_their_ids(
    make_hook: Any, ctx: MakeCtx, store: HelloIDStore
) -> None:
    found = make_hook(page_size=2).idsync_permissions(ctx=ctx())
    keys = {p.key: p.reference for p in found}
    assert set(keys) == {
        "group:ICT Admins",
        "group:department_SALES",
        "group:department_HR",
        "product:Laptop",
        "product:Mobile phone",
        "product:VPN access",
    }
    assert keys["group:ICT Admins"] == store.get_group("ICT Admins")["groupGuid"]
    assert keys["product:Laptop"] in store.products


def test_group_grant_and_revoke_are_idempotent(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("g@enyoi.org")
    granted = hook.idsync_grant(ctx=_on(ctx, guid, "group:ICT Admins"))
    assert granted.success
    assert granted.reference == store.get_group("ICT Admins")["groupGuid"]
    assert store.memberships(guid) == {"ICT Admins"}
    again = hook.idsync_grant(ctx=_on(ctx, guid, "group:ict admins"))
    assert again.success
    assert "already a member" in again.messages[0]
    revoked = hook.idsync_revoke(ctx=_on(ctx, guid, "group:ICT Admins"))
    assert revoked.success
    assert not revoked.not_found
    assert store.memberships(guid) == set()
    twice = hook.idsync_revoke(ctx=_on(ctx, guid, "group:ICT Admins"))
    assert twice.success
    assert twice.not_found
    assert twice.messages[0].startswith("warning:")
    writes = [(w.method, w.path) for w in sim.log.writes()]
    assert writes == [
        ("POST", f"/api/v1/users/{guid}/groups"),
        ("DELETE", f"/api/v1/users/{guid}/groups/{granted.reference}"),
    ]
    assert sim.log.writes()[0].body == {"groupGuid": granted.reference}


def test_group_grant_of_an_unknown_group_or_user_fails_and_revoke_of_them_passes(
    hook: Any, ctx: MakeCtx, add_user: Callable[..., str], store: HelloIDStore
) -> None:
    guid = add_user("g@enyoi.org")
    unknown = hook.idsync_grant(ctx=_on(ctx, guid, "group:No Such Group"))
    assert not unknown.success
    assert "'No Such Group' does not exist" in unknown.messages[0]
    gone = hook.idsync_revoke(ctx=_on(ctx, guid, "group:No Such Group"))
    assert gone.success
    assert gone.not_found
    store.delete_user(guid)
    missing = hook.idsync_grant(ctx=_on(ctx, guid, "group:ICT Admins"))
    assert not missing.success
    assert missing.not_found
    assert "User not found" in missing.messages[0]
    assert hook.idsync_revoke(ctx=_on(ctx, guid, "group:ICT Admins")).not_found


def test_moving_department_ends_with_exactly_the_new_departments_group(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("mover@enyoi.org")
    store.add_member(guid, "department_SALES")
    store.add_member(guid, "ICT Admins")
    assert hook.idsync_revoke(ctx=_on(ctx, guid, "group:department_SALES")).success
    assert hook.idsync_grant(ctx=_on(ctx, guid, "group:department_HR")).success
    assert store.memberships(guid) == {"department_HR", "ICT Admins"}


def test_product_grant_when_the_person_already_has_other_products(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("p@enyoi.org")
    by_name = {p["name"]: p["productId"] for p in store.products.values()}
    store.assign(by_name["Mobile phone"], guid)
    store.assign(by_name["VPN access"], guid)
    granted = hook.idsync_grant(ctx=_on(ctx, guid, "product:Laptop"))
    assert granted.success
    assert granted.reference == by_name["Laptop"]
    assert store.products_of(guid) == ["Laptop", "Mobile phone", "VPN access"]
    assert store.requests == [
        {
            "requestedProductGUID": by_name["Laptop"],
            "requestedByUserGUID": guid,
            "requestedForUserGUID": guid,
            "comment": "Requested by idsync",
        }
    ]
    again = hook.idsync_grant(ctx=_on(ctx, guid, "product:Laptop"))
    assert again.success
    assert "already assigned" in again.messages[0]
    assert store.products_of(guid).count("Laptop") == 1
    assert [w.path for w in sim.log.writes()] == ["/api/v1/selfservice/products/request"]


def test_product_revoke_unassigns_every_assignment_and_is_idempotent(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    guid = add_user("p@enyoi.org")
    by_name = {p["name"]: p["productId"] for p in store.products.values()}
    store.assign(by_name["Laptop"], guid)
    store.assign(by_name["Laptop"], guid)
    store.assign(by_name["VPN access"], guid)
    revoked = hook.idsync_revoke(ctx=_on(ctx, guid, "product:Laptop"))
    assert revoked.success
    assert not revoked.not_found
    assert store.products_of(guid) == ["VPN access"]
    assert sim.log.writes()[0].body == {
        "productGUID": by_name["Laptop"],
        "userGUID": guid,
        "executeActions": True,
    }
    twice = hook.idsync_revoke(ctx=_on(ctx, guid, "product:Laptop"))
    assert twice.success
    assert twice.not_found
    assert len(sim.log.writes()) == 1


def test_product_that_does_not_exist_or_appears_later(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("p@enyoi.org")
    assert hook.idsync_grant(ctx=_on(ctx, guid, "product:Laptop")).success
    missing = hook.idsync_grant(ctx=_on(ctx, guid, "product:Coffee machine"))
    assert not missing.success
    assert "'Coffee machine' does not exist" in missing.messages[0]
    assert hook.idsync_revoke(ctx=_on(ctx, guid, "product:Coffee machine")).not_found
    store.add_product("Coffee machine")
    assert hook.idsync_grant(ctx=_on(ctx, guid, "product:Coffee machine")).success
    assert store.products_of(guid) == ["Coffee machine", "Laptop"]


def test_unknown_permission_kinds_fail_clearly(
    hook: Any, ctx: MakeCtx, add_user: Callable[..., str]
) -> None:
    guid = add_user("k@enyoi.org")
    result = hook.idsync_grant(ctx=_on(ctx, guid, "role:Admin"))
    assert not result.success
    assert "group:<name> or product:<name>" in result.messages[0]
    assert not hook.idsync_resource(ctx=ctx(permission=Permission.parse("product:Laptop"))).success


@pytest.mark.parametrize("name", ["department_FIN", "department_R&D / Lab"])
def test_resource_creates_a_missing_group_once(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, sim: Simulated, name: str
) -> None:
    department = {"external_id": "D9", "name": "Finance", "code": "FIN"}
    permission = Permission(kind="group", name=name, data={"department": department})
    created = hook.idsync_resource(ctx=ctx(permission=permission))
    assert created.success
    assert created.messages == [f"created group {name!r}"]
    group = store.get_group(created.reference)
    assert (group["name"], group["isEnabled"]) == (name, True)
    again = hook.idsync_resource(ctx=ctx(permission=permission))
    assert again.success
    assert again.reference == created.reference
    assert "already exists" in again.messages[0]
    assert [w.body for w in sim.log.writes()] == [{"name": name, "isEnabled": True}]


def test_resource_for_an_existing_group_writes_nothing(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, sim: Simulated
) -> None:
    result = hook.idsync_resource(ctx=ctx(permission=Permission.parse("group:department_HR")))
    assert result.success
    assert result.reference == store.get_group("department_HR")["groupGuid"]
    assert sim.log.writes() == []
