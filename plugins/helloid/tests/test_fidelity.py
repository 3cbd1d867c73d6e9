"""What the plugin sends, exactly: a user's whole lifecycle replayed against the simulator.

Each step is one run of the engine (a fresh plugin, so nothing is cached across steps), and
the requests of every step (method, path, query, body, status) must equal
``fidelity/lifecycle.json``; generated passwords are masked. A change in what idsync sends to
HelloID therefore shows in review as a change of that file. When the change is meant, write
the file anew with

    IDSYNC_RECORD_REQUESTS=1 .venv/bin/pytest plugins/helloid/tests/test_fidelity.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from idsync import ActionResult, Change, Correlation, HookContext, Permission
from idsync.sandbox.simulator import RequestRecording, Simulated
from idsync_helloid.simulator import HelloIDStore

EXPECTED = Path(__file__).parent / "fidelity" / "lifecycle.json"

JOINED = {
    "userName": "c.bos@enyoi.org",
    "firstName": "Cásey",
    "lastName": "Bos",
    "contactEmail": "c.bos@enyoi.org",
    "userAttributes.employeeId": "1001",
    "userAttributes.department": "Sales",
    "userAttributes.title": "Verkoper",
}


def test_a_lifecycle_sends_exactly_the_recorded_requests(
    sim: Simulated, store: HelloIDStore, make_hook: Callable[..., Any], add_user: Callable[..., str]
) -> None:
    boss = add_user("carl.dijk@enyoi.org")
    recording = RequestRecording(EXPECTED, sim.log, mask={"password"})
    account = dict(JOINED)
    reference = ""

    def run() -> Any:
        # Every step is a run of its own: nothing is cached between them.
        return make_hook(update_user_name=True)

    def ctx(**values: Any) -> HookContext:
        return HookContext(system="helloid", manager_reference=boss, **values)

    def ok(result: ActionResult) -> ActionResult:
        assert result.success, result.messages
        return result

    def on(permission: str) -> HookContext:
        return ctx(reference=reference, permission=Permission.parse(permission))

    def update(hook: Any, **new: Any) -> None:
        nonlocal account
        changes = {k: Change(before=account.get(k), after=v) for k, v in new.items()}
        account = {**account, **new}
        ok(hook.idsync_update(ctx=ctx(reference=reference, account=account, changes=changes)))

    def join(hook: Any) -> str:
        by_name = Correlation(
            person_field="account.userName", account_field="userName", value=account["userName"]
        )
        assert hook.idsync_correlate(ctx=ctx(correlation=by_name)) == []
        free = hook.idsync_attribute_available(
            ctx=ctx(), attribute="userName", value=account["userName"]
        )
        assert free is True
        created = str(ok(hook.idsync_create(ctx=ctx(account=account))).reference)
        ok(hook.idsync_resource(ctx=ctx(permission=Permission.parse("group:department_SALES"))))
        return created

    ok(run().idsync_check_connection(ctx=ctx()))
    recording.step("check")

    hook = run()
    reference = join(hook)
    ok(hook.idsync_grant(ctx=on("group:department_SALES")))
    ok(hook.idsync_grant(ctx=on("product:Laptop")))
    ok(hook.idsync_enable(ctx=ctx(reference=reference)))
    recording.step("join: correlate, create disabled, department group, product, enable")

    update(run(), **{"userAttributes.title": "Senior verkoper"})
    recording.step("update: a new title")

    hook = run()
    update(hook, **{"userAttributes.department": "Personeelszaken"})
    ok(hook.idsync_revoke(ctx=on("group:department_SALES")))
    ok(hook.idsync_grant(ctx=on("group:department_HR")))
    recording.step("move: the department attribute and group")

    update(
        run(), userName="c.bakker@enyoi.org", lastName="Bakker", contactEmail="c.bakker@enyoi.org"
    )
    recording.step("rename: a new user name through IdentifierObject")

    hook = run()
    ok(hook.idsync_revoke(ctx=on("group:department_HR")))
    ok(hook.idsync_revoke(ctx=on("product:Laptop")))
    ok(hook.idsync_disable(ctx=ctx(reference=reference)))
    recording.step("leave: revoke everything, disable")

    ok(run().idsync_delete(ctx=ctx(reference=reference)))
    recording.step("delete: HelloID keeps the user soft-deleted")

    hook = run()
    old = reference
    reference = join(hook)
    assert reference == old  # the soft-deleted user came back, not a second one
    ok(hook.idsync_grant(ctx=on("group:department_SALES")))
    ok(hook.idsync_enable(ctx=ctx(reference=reference)))
    recording.step("rehire: the soft-deleted user is restored, granted and enabled")

    user = store.get_user(reference)
    assert (user["userName"], user["isDeleted"], user["isEnabled"]) == (
        "c.bakker@enyoi.org",
        False,
        True,
    )
    recording.verify()
