"""Granting a group reads it once: later grants of the same group cost one request each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from idsync import HookContext, Permission
from idsync.sandbox.simulator import Simulated
from idsync_helloid.simulator import HelloIDStore

MakeCtx = Callable[..., HookContext]


def _grant(hook: Any, ctx: MakeCtx, guid: str, group: str) -> Any:
    return hook.idsync_grant(ctx=ctx(reference=guid, permission=Permission.parse(group)))


def test_a_group_is_read_once_then_each_grant_is_one_request(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    users = [add_user(f"u{i}@enyoi.org") for i in range(4)]
    sim.log.clear()
    results = [_grant(hook, ctx, guid, "group:ICT Admins") for guid in users]
    assert all(r.success for r in results)
    assert {r.reference for r in results} == {store.get_group("ICT Admins")["groupGuid"]}
    assert [(r.method, r.path) for r in sim.log.all()] == [
        ("GET", "/api/v1/groups/ICT Admins"),
        *(("POST", f"/api/v1/users/{guid}/groups") for guid in users),
    ]
    assert all(store.memberships(guid) == {"ICT Admins"} for guid in users)


def test_already_a_member_is_always_read_afresh(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str], sim: Simulated
) -> None:
    """Remembered as a member, removed behind the plugin's back: granted again, not skipped."""
    guid = add_user("back@enyoi.org")
    assert _grant(hook, ctx, guid, "group:department_HR").success
    store.remove_member(guid, "department_HR")
    sim.log.clear()
    again = _grant(hook, ctx, guid, "group:department_HR")
    assert again.messages == ["added to group 'department_HR'"]
    assert [r.method for r in sim.log.all()] == ["GET", "POST"]
    assert store.memberships(guid) == {"department_HR"}
    assert "already a member" in _grant(hook, ctx, guid, "group:department_HR").messages[0]


def test_a_revoked_member_is_granted_again(
    hook: Any, ctx: MakeCtx, store: HelloIDStore, add_user: Callable[..., str]
) -> None:
    guid = add_user("mover@enyoi.org")
    assert _grant(hook, ctx, guid, "group:department_SALES").success
    revoke = Permission.parse("group:department_SALES")
    assert hook.idsync_revoke(ctx=ctx(reference=guid, permission=revoke)).success
    assert store.memberships(guid) == set()
    assert _grant(hook, ctx, guid, "group:department_SALES").messages == [
        "added to group 'department_SALES'"
    ]
    assert store.memberships(guid) == {"department_SALES"}


def test_dry_run_grants_from_memory_write_nothing(
    make_hook: Any, ctx: MakeCtx, add_user: Callable[..., str], sim: Simulated
) -> None:
    hook = make_hook()
    first, second = add_user("a@enyoi.org"), add_user("b@enyoi.org")
    permission = Permission.parse("group:ICT Admins")
    assert hook.idsync_grant(ctx=ctx(reference=first, permission=permission, dry_run=True)).success
    planned = hook.idsync_grant(ctx=ctx(reference=second, permission=permission, dry_run=True))
    assert planned.messages == ["dry-run: would add to group 'ICT Admins'"]
    assert sim.log.writes() == []
