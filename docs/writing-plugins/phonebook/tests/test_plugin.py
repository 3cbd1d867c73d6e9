"""The Phonebook plugin against its simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

import pluggy
import pytest
from idsync import Change, Correlation, HookContext, PluginKind, hookspecs
from idsync.sandbox import hookspecs as sandbox_hookspecs
from idsync.sandbox.simulator import Simulated
from idsync_phonebook import PhonebookPlugin, PhonebookSettings
from idsync_phonebook.simulator import PhonebookData
from pydantic import SecretStr

Ctx = Callable[..., HookContext]

ACCOUNT = {"employeeId": "100042", "displayName": "Eva Meijer", "email": "eva.meijer@example.org"}


def _by_employee_id(value: str) -> Correlation:
    return Correlation(person_field="external_id", account_field="employeeId", value=value)


# --8<-- [start:test-load]
def test_idsync_accepts_the_plugin() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.add_hookspecs(sandbox_hookspecs)  # the sandbox's own hook, outside the contract
    manager.register(PhonebookPlugin())
    manager.check_pending()  # every hook method is named and shaped as a hookspec
    about = manager.hook.idsync_about()
    assert about.name == "phonebook"
    assert about.kind is PluginKind.TARGET
    assert about.settings is PhonebookSettings


# --8<-- [end:test-load]


# --8<-- [start:test-create]
def test_create_returns_a_reference_and_the_entry_then_correlates(
    plugin: PhonebookPlugin, ctx: Ctx
) -> None:
    created = plugin.idsync_create(ctx(account=ACCOUNT))
    assert created.success
    assert created.reference is not None
    found = plugin.idsync_correlate(ctx(correlation=_by_employee_id("100042")))
    assert [a.reference for a in found] == [created.reference]
    assert found[0].enabled is False  # created unlisted


def test_several_matches_are_all_returned(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    data.add(employeeId="100042", displayName="Eva Meijer")
    data.add(employeeId="100042", displayName="E. Meijer")
    found = plugin.idsync_correlate(ctx(correlation=_by_employee_id("100042")))
    assert len(found) == 2  # the engine reports the person as disputed


# --8<-- [end:test-create]


# --8<-- [start:test-update]
def test_update_writes_only_the_changes(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    entry = data.add(**ACCOUNT)
    changes = {"phone": Change(before=None, after="+31 20 555 0142")}
    result = plugin.idsync_update(ctx(reference=entry["id"], account=ACCOUNT, changes=changes))
    assert result.success
    assert [r.body for r in app.log.writes()] == [{"phone": "+31 20 555 0142"}]


def test_update_without_changes_writes_nothing(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    entry = data.add(**ACCOUNT)
    assert plugin.idsync_update(ctx(reference=entry["id"], account=ACCOUNT)).success
    assert app.log.writes() == []


def test_update_of_an_entry_that_is_gone_is_not_found(plugin: PhonebookPlugin, ctx: Ctx) -> None:
    changes = {"phone": Change(after="+31 20 555 0142")}
    result = plugin.idsync_update(ctx(reference="e-404", changes=changes))
    assert not result.success
    assert result.not_found


# --8<-- [end:test-update]


# --8<-- [start:test-access]
def test_enable_and_disable_are_idempotent(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    entry = data.add(**ACCOUNT)
    assert plugin.idsync_enable(ctx(reference=entry["id"])).success
    assert plugin.idsync_enable(ctx(reference=entry["id"])).success
    assert plugin.idsync_disable(ctx(reference=entry["id"])).success
    assert plugin.idsync_disable(ctx(reference=entry["id"])).success
    assert [r.body for r in app.log.writes()] == [{"listed": True}, {"listed": False}]


def test_delete_of_an_entry_already_gone_is_success(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    entry = data.add(**ACCOUNT)
    first = plugin.idsync_delete(ctx(reference=entry["id"]))
    again = plugin.idsync_delete(ctx(reference=entry["id"]))
    assert first.success
    assert not first.not_found
    assert again.success
    assert again.not_found


def test_disable_of_an_entry_already_gone_is_success(plugin: PhonebookPlugin, ctx: Ctx) -> None:
    result = plugin.idsync_disable(ctx(reference="e-404"))
    assert result.success
    assert result.not_found


# --8<-- [end:test-access]


# --8<-- [start:test-dry-run]
def test_dry_run_writes_nothing(
    plugin: PhonebookPlugin, data: PhonebookData, app: Simulated, ctx: Ctx
) -> None:
    entry = data.add(**ACCOUNT)
    reference = entry["id"]
    changes = {"phone": Change(after="+31 20 555 0142")}
    results = [
        plugin.idsync_create(ctx(dry_run=True, account={**ACCOUNT, "employeeId": "100043"})),
        plugin.idsync_update(ctx(dry_run=True, reference=reference, changes=changes)),
        plugin.idsync_enable(ctx(dry_run=True, reference=reference)),
        plugin.idsync_disable(ctx(dry_run=True, reference=reference)),
        plugin.idsync_delete(ctx(dry_run=True, reference=reference)),
    ]
    assert all(r.success for r in results)
    assert app.log.writes() == []


# --8<-- [end:test-dry-run]


# --8<-- [start:test-errors]
def test_a_refused_token_is_reported_without_the_token(url: str, token: str, ctx: Ctx) -> None:
    wrong = "not-the-right-token-9d2e"
    settings = PhonebookSettings(base_url=url, token=SecretStr(wrong), retries=0)
    result = PhonebookPlugin(settings=settings).idsync_check_connection(ctx())
    assert not result.success
    assert result.messages == ["the Phonebook refused the token"]
    assert token not in repr(result)
    assert wrong not in repr(result)


def test_a_field_the_phonebook_lacks_fails_the_create(plugin: PhonebookPlugin, ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="no field title"):
        plugin.idsync_create(ctx(account={**ACCOUNT, "title": "Teamleider"}))


# --8<-- [end:test-errors]
