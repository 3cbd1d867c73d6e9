"""The contract kit itself: a plugin that keeps the contract passes every check, and each way
of breaking the contract fails the check that covers it, with a message that names the hook and
the broken promise.

The plugins here keep their accounts in memory (a store named in their settings), so every
write is counted exactly; the vendor plugins, the tutorial's and a generated one run the same
kit over HTTP in their own tests. ``MUTANTS`` is the mutation catalogue: each entry a small
subclass of a correct plugin that breaks one promise. The kit's docs page lists it (cog).
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from idsync import (
    Account,
    ActionKind,
    ActionResult,
    ApiClient,
    Blocked,
    Correlation,
    HookContext,
    Name,
    Permission,
    Person,
    PluginAbout,
    PluginKind,
    hookimpl,
)
from idsync.sandbox.simulator import Simulated
from idsync.testing import (
    Created,
    Sample,
    SourceContract,
    TargetContract,
    sent_writes,
    sharing,
    simulator_writes,
    source_contract,
    target_contract,
    unique,
)
from idsync.testing.contract import Contract
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr

pytest_plugins = ["pytester"]

TOKEN = "memory-token-0123456789"
STORES: dict[str, Memory] = {}
_names = itertools.count(1)


class Memory:
    """A target system in memory: accounts, groups, persons, and every write it saw."""

    def __init__(self) -> None:
        self.name = f"memory-{next(_names)}"
        self.accounts: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, str] = {"Staff": "g-staff"}
        self.rows: list[dict[str, Any]] = [
            {
                "external_id": "1",
                "name": {"family": "Jansen"},
                "contact": {"email": "jansen@example.org"},
                "contracts": [
                    {"external_id": "1-1", "start": "2024-01-01", "department": {"code": "ICT"}}
                ],
            },
            {"external_id": "2", "name": {"family": "Bakker"}},
        ]
        self.departments: list[dict[str, Any]] = [
            {"external_id": "ORG", "name": "Organisatie"},
            {"external_id": "ICT", "name": "ICT", "parent": "ORG", "manager": "1"},
        ]
        self.writes: list[str] = []
        self.token = TOKEN


class MemorySettings(BaseModel):
    """Which memory store, and a token that must never show."""

    model_config = ConfigDict(extra="forbid")

    store: str = Field(description="The name of the in-memory store.")
    token: SecretStr = Field(description="A credential (checked for leaks).")


def _gone(message: str) -> ActionResult:
    return ActionResult(not_found=True, messages=[f"warning: {message}"])


class MemoryTarget:
    """A target that keeps the whole contract."""

    def __init__(self, settings: MemorySettings | None = None) -> None:
        self.settings = settings

    @property
    def memory(self) -> Memory:
        assert self.settings is not None
        return STORES[self.settings.store]

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="memory",
            kind=PluginKind.TARGET,
            version="1.0",
            settings=MemorySettings,
            permission_kinds=["group"],
            attributes=["userName", "lastName", "title", "extra.*"],
        )

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        assert self.settings is not None
        if self.settings.token.get_secret_value() != self.memory.token:
            return ActionResult(success=False, messages=["the store refused the token"])
        return ActionResult(messages=["the store answered"])

    def _account(self, reference: str, row: dict[str, Any]) -> Account:
        return Account(
            reference=reference,
            data=dict(row["data"]),
            enabled=row["enabled"],
            permissions=sorted(f"group:{g}" for g in row["groups"]),
        )

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        assert ctx.correlation is not None
        field, value = ctx.correlation.account_field, ctx.correlation.value
        return [
            self._account(ref, row)
            for ref, row in self.memory.accounts.items()
            if row["data"].get(field) == value
        ]

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        return all(
            ref == ctx.reference
            for ref, row in self.memory.accounts.items()
            if row["data"].get(attribute) == value
        )

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> list[Account]:
        return [self._account(ref, row) for ref, row in self.memory.accounts.items()]

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        if ctx.dry_run:
            return ActionResult(data=dict(ctx.account), messages=["would create"])
        reference = f"u{len(self.memory.writes) + 1}"
        self.memory.accounts[reference] = {
            "data": dict(ctx.account),
            "enabled": False,
            "groups": set(),
        }
        self.memory.writes.append(f"create {reference}")
        return ActionResult(reference=reference, data=dict(ctx.account))

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        row = self.memory.accounts.get(ctx.reference or "")
        if row is None:
            return ActionResult(success=False, not_found=True, messages=["no such account"])
        pending = {k: c.after for k, c in ctx.changes.items() if row["data"].get(k) != c.after}
        data = {**ctx.account, **pending}
        if pending and not ctx.dry_run:
            row["data"].update(pending)
            self.memory.writes.append(f"update {ctx.reference}")
        return ActionResult(reference=ctx.reference, data=data)

    def _set_enabled(self, ctx: HookContext, enabled: bool) -> ActionResult:
        row = self.memory.accounts.get(ctx.reference or "")
        if row is None:
            if enabled:
                return ActionResult(success=False, not_found=True, messages=["no such account"])
            return _gone("no such account")
        if row["enabled"] is not enabled and not ctx.dry_run:
            row["enabled"] = enabled
            self.memory.writes.append(f"enabled={enabled} {ctx.reference}")
        return ActionResult(reference=ctx.reference)

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        return self._set_enabled(ctx, True)

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        return self._set_enabled(ctx, False)

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        if ctx.reference not in self.memory.accounts:
            return _gone("no such account")
        if not ctx.dry_run:
            del self.memory.accounts[ctx.reference]
            self.memory.writes.append(f"delete {ctx.reference}")
        return ActionResult(reference=ctx.reference)

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> list[Permission]:
        return [
            Permission(kind="group", name=n, reference=r) for n, r in self.memory.groups.items()
        ]

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        name = ctx.permission.name
        row = self.memory.accounts.get(ctx.reference or "")
        if row is None or name not in self.memory.groups:
            return ActionResult(success=False, messages=[f"group {name!r} or account missing"])
        if name not in row["groups"] and not ctx.dry_run:
            row["groups"].add(name)
            self.memory.writes.append(f"grant {name}")
        return ActionResult(reference=self.memory.groups[name])

    @hookimpl
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        name = ctx.permission.name
        row = self.memory.accounts.get(ctx.reference or "")
        if row is None or name not in row["groups"]:
            return _gone(f"{name} is not held")
        if not ctx.dry_run:
            row["groups"].discard(name)
            self.memory.writes.append(f"revoke {name}")
        return ActionResult(reference=self.memory.groups.get(name))

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        name = ctx.permission.name
        if name not in self.memory.groups and not ctx.dry_run:
            self.memory.groups[name] = f"g-{name}"
            self.memory.writes.append(f"resource {name}")
        return ActionResult(reference=self.memory.groups.get(name))


def _sample(unique: str) -> Sample:
    return Sample(
        account={"userName": f"u.{unique}", "lastName": "Jansen", "title": "Tester"},
        correlation=Correlation(
            person_field="external_id", account_field="userName", value=f"u.{unique}"
        ),
        changes={"title": "Boss"},
    )


def _target(plugin: Any, **overrides: Any) -> type[TargetContract]:
    values: dict[str, Any] = {
        "settings": lambda memory: {"store": memory.name, "token": TOKEN},
        "writes": lambda memory: memory.writes,
        "sample": _sample,
        "permissions": ["group:Staff"],
    }
    values.update(overrides)
    return target_contract(plugin, **values)


@pytest.fixture
def memory() -> Iterator[Memory]:
    store = Memory()
    STORES[store.name] = store
    yield store
    del STORES[store.name]


def checks(contract: type[Contract]) -> list[tuple[str, str | None]]:
    """``(check, hook)`` for every test the class holds, as pytest would collect them."""
    found: list[tuple[str, str | None]] = []
    for name in sorted(dir(contract)):
        if name.startswith("test_") and getattr(contract, name) is not None:
            choices = contract.hook_choices.get(name) or [None]
            found.extend((name, hook) for hook in choices)
    return found


def run(contract: type[Contract], check: str, memory: Memory, hook: str | None = None) -> None:
    """Run one check the way pytest does: a harness from the spec, then the method."""
    with contract.harness(contract.spec, {"memory": memory}) as harness:
        method = getattr(contract(), check)
        if hook is None:
            method(harness)
        else:
            method(harness, hook=hook)


# --- a plugin that keeps the contract -------------------------------------------------


def test_a_plugin_that_keeps_the_contract_passes_every_check(memory: Memory) -> None:
    contract = _target(MemoryTarget)
    collected = checks(contract)
    assert ("test_dry_run_writes_nothing", "idsync_resource") in collected
    assert ("test_repeating_is_idempotent", "idsync_revoke") in collected
    assert ("test_already_gone_is_success", "idsync_delete") in collected
    assert len(collected) == 35
    for check, hook in collected:
        run(contract, check, memory, hook)


def test_only_implemented_hooks_are_checked() -> None:
    class CreateAndUpdate(MemoryTarget):
        pass

    for hook in ("enable", "disable", "delete", "grant", "revoke", "resource", "accounts"):
        setattr(CreateAndUpdate, f"idsync_{hook}", None)
    contract = _target(CreateAndUpdate, permissions=())
    collected = checks(contract)
    assert contract.hook_choices["test_dry_run_writes_nothing"] == [
        "idsync_create",
        "idsync_update",
    ]
    names = {check for check, _ in collected}
    assert "test_repeating_is_idempotent" not in names
    assert "test_already_gone_is_success" not in names
    assert "test_accounts_lists_the_created_account" not in names
    assert "test_update_changes_exactly_the_given_attributes" in names


def test_a_read_only_target_needs_no_write_probe(memory: Memory) -> None:
    class Lookup(MemoryTarget):
        """A directory idsync only reads from (correlation, permissions)."""

    for hook in ("create", "update", "enable", "disable", "delete", "grant", "revoke"):
        setattr(Lookup, f"idsync_{hook}", None)
    for hook in ("resource", "attribute_available", "accounts"):
        setattr(Lookup, f"idsync_{hook}", None)
    contract = _target(Lookup, writes=None)
    collected = checks(contract)
    assert {"test_correlate_finds_nothing_for_an_unknown_value"} <= {c for c, _ in collected}
    for check, hook in collected:
        run(contract, check, memory, hook)


def test_what_the_checks_need_is_asked_for_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match=r"give writes= .*; sample= .*; permissions="):
        target_contract(MemoryTarget, settings=lambda: {})


def test_pytest_collects_the_class_with_hook_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_partial="""
        from idsync.testing import Sample, target_contract
        from idsync import Correlation, HookContext, PluginAbout, PluginKind, hookimpl
        from pydantic import BaseModel, ConfigDict

        class Settings(BaseModel):
            model_config = ConfigDict(extra="forbid")

        class Plugin:
            def __init__(self, settings=None):
                pass

            @hookimpl
            def idsync_about(self):
                return PluginAbout(name="p", kind=PluginKind.TARGET, version="1", settings=Settings)

            @hookimpl
            def idsync_disable(self, ctx):
                ...

            @hookimpl
            def idsync_correlate(self, ctx):
                ...

        TestPartial = target_contract(Plugin, settings=lambda: {}, writes=lambda: 0)
        """
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    lines = [line for line in result.outlines if "::" in line]
    assert lines == [
        "test_partial.py::TestPartial::test_about_describes_the_plugin",
        "test_partial.py::TestPartial::test_settings_are_strict_described_and_hide_secrets",
        "test_partial.py::TestPartial::test_kind_matches_the_implemented_hooks",
        "test_partial.py::TestPartial::test_already_gone_is_success[disable]",
    ]


def test_may_change_lets_a_target_stamp_its_writes(memory: Memory) -> None:
    def stamped(unique: str) -> Sample:
        sample = _sample(unique)
        sample.may_change = ("revision",)
        return sample

    contract = _target(StampsEveryUpdate, sample=stamped)
    run(contract, "test_update_changes_exactly_the_given_attributes", memory)


def test_a_secret_in_the_log_fails_at_teardown(memory: Memory) -> None:
    class LogsTheToken(MemoryTarget):
        @hookimpl
        def idsync_enable(self, ctx: HookContext) -> ActionResult:
            assert self.settings is not None
            logger.debug("enabling with {}", self.settings.token.get_secret_value())
            return super().idsync_enable(ctx)

    contract = _target(LogsTheToken)
    with pytest.raises(AssertionError, match=r"token appeared in the plugin's log"):
        run(contract, "test_repeating_is_idempotent", memory, "idsync_enable")


# --- sources ----------------------------------------------------------------------------


class MemorySource:
    """A source that keeps the contract: rows it cannot read are blocked with a reason."""

    def __init__(self, settings: MemorySettings | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="memory", kind=PluginKind.SOURCE, version="1", settings=MemorySettings
        )

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        assert self.settings is not None
        for row in STORES[self.settings.store].rows:
            if not row["name"].get("family"):
                yield Blocked(person=row["external_id"], field="family", problem="is empty")
            else:
                yield row

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> list[dict[str, Any]]:
        assert self.settings is not None
        return STORES[self.settings.store].departments


def _no_family(memory: Memory) -> str:
    memory.rows.insert(1, {"external_id": "3", "name": {"family": ""}})
    return "3"


def _source(plugin: Any, **overrides: Any) -> type[SourceContract]:
    values: dict[str, Any] = {
        "settings": lambda memory: {"store": memory.name, "token": TOKEN},
        "writes": lambda memory: memory.writes,
        "bad_row": _no_family,
        "min_persons": 2,
        "persons": lambda: [
            {
                "external_id": "1",
                "name": {"family": "Jansen"},
                "contact": {"email": "jansen@example.org"},
                "contracts": [{"external_id": "1-1", "department": {"code": "ICT"}}],
            }
        ],
        "departments": lambda: [{"external_id": "ICT", "parent": "ORG", "manager": "1"}],
    }
    values.update(overrides)
    return source_contract(plugin, **values)


def test_a_source_that_keeps_the_contract_passes_every_check(memory: Memory) -> None:
    contract = _source(MemorySource)
    collected = checks(contract)
    assert {c for c, _ in collected} >= {
        "test_persons_are_valid_and_blocked_rows_say_why",
        "test_a_bad_row_is_blocked_with_a_reason",
        "test_departments_are_valid",
    }
    for check, hook in collected:
        run(contract, check, memory, hook)


def test_source_checks_catch_vague_blocks_duplicates_and_orphan_departments(
    memory: Memory,
) -> None:
    contract = _source(MemorySource)
    memory.rows.append({"external_id": "1", "name": {"family": "Twee"}})
    with pytest.raises(
        AssertionError, match=r"idsync_persons yielded external ids more than once: \['1'\]"
    ):
        run(contract, "test_persons_are_valid_and_blocked_rows_say_why", memory)
    memory.departments.append({"external_id": "DEV", "name": "Dev", "parent": "GONE"})
    with pytest.raises(
        AssertionError, match=r"parent is not a department: \['DEV \(parent GONE\)'\]"
    ):
        run(contract, "test_departments_are_valid", memory)


# --- the mutation catalogue: each broken promise fails the check that covers it ----------


class UndeclaredTarget(MemoryTarget):
    """Keeps every promise but one: it tells ``idsync check`` nothing of its attributes."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="memory",
            kind=PluginKind.TARGET,
            version="1.0",
            settings=MemorySettings,
            permission_kinds=["group"],
        )


class MisdeclaredTarget(MemoryTarget):
    """Declares attributes, but not the ones its accounts have, and a kind it never grants."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="memory",
            kind=PluginKind.TARGET,
            version="1.0",
            settings=MemorySettings,
            permission_kinds=["role"],
            attributes=["userName", "surname", "bad name"],
        )


class DryRunCreates(MemoryTarget):
    """A create that ignores dry-run and writes."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(ctx.model_copy(update={"dry_run": False}))


class WritesLateUnderDryRun(MemoryTarget):
    """A dry-run create whose write reaches the endpoint a moment after the call returned."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        if ctx.dry_run:
            memory = self.memory
            threading.Timer(0.005, lambda: memory.writes.append("late POST")).start()
        return super().idsync_create(ctx)


class DryRunCreateInventsAReference(MemoryTarget):
    """A dry-run create that answers a reference for the account it did not make."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_create(ctx)
        return result.model_copy(update={"reference": "u-would-be"}) if ctx.dry_run else result


class DryRunUpdateWrites(MemoryTarget):
    """An update that writes under dry-run."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        return super().idsync_update(ctx.model_copy(update={"dry_run": False}))


class DryRunDeleteDeletes(MemoryTarget):
    """A delete that deletes under dry-run."""

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        return super().idsync_delete(ctx.model_copy(update={"dry_run": False}))


class DryRunGrantWrites(MemoryTarget):
    """A grant that writes under dry-run."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        return super().idsync_grant(ctx.model_copy(update={"dry_run": False}))


class DryRunResourceWrites(MemoryTarget):
    """A resource that is created under dry-run."""

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        return super().idsync_resource(ctx.model_copy(update={"dry_run": False}))


class CreatesEnabled(MemoryTarget):
    """A create that makes the account enabled."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_create(ctx)
        if result.reference:
            self.memory.accounts[result.reference]["enabled"] = True
        return result


class ClaimsAnActiveCreate(MemoryTarget):
    """A create asked to make the account active that says it did, and left it disabled."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_create(ctx)
        return result.model_copy(update={"enabled": ctx.active})


class PlanListingDropsData(MemoryTarget):
    """A listing for a plan that leaves the account data out (it must keep the mapping keys)."""

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> list[Account]:
        accounts = super().idsync_accounts(ctx)
        if ctx.action is ActionKind.CORRELATE:
            return [a.model_copy(update={"data": {}}) for a in accounts]
        return accounts


class CreatesWithOtherValues(MemoryTarget):
    """A create that writes another value than it was given."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(
            ctx.model_copy(update={"account": {**ctx.account, "title": "?"}})
        )


class CreateDropsAnAttribute(MemoryTarget):
    """A create that drops a mapped attribute it does not know."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        account = {k: v for k, v in ctx.account.items() if k != "title"}
        return super().idsync_create(ctx.model_copy(update={"account": account}))


class AnswersInVendorKeys(MemoryTarget):
    """Account data in the vendor's field names, not the pipeline's mapping keys."""

    def _account(self, reference: str, row: dict[str, Any]) -> Account:
        account = super()._account(reference, row)
        account.data = {key.lower(): value for key, value in account.data.items()}
        return account


class CreateWithoutAReference(MemoryTarget):
    """A create that does not answer the new account's reference."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(ctx).model_copy(update={"reference": None})


class CorrelateIgnoresTheValue(MemoryTarget):
    """A correlation that answers every account, whatever the value."""

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        return [self._account(ref, row) for ref, row in self.memory.accounts.items()]


class EverythingIsAvailable(MemoryTarget):
    """A uniqueness check that calls every value free."""

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        return True


class AccountsSkipsDisabled(MemoryTarget):
    """An accounts import that leaves out disabled accounts."""

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> list[Account]:
        return [a for a in super().idsync_accounts(ctx) if a.enabled]


class AccountsLoseAnAttribute(MemoryTarget):
    """An accounts import that loses an attribute on the way."""

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> list[Account]:
        accounts = super().idsync_accounts(ctx)
        for account in accounts:
            account.data.pop("title", None)
        return accounts


class StampsEveryUpdate(MemoryTarget):
    """An update that changes an attribute nobody asked for."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        row = self.memory.accounts.get(ctx.reference or "")
        if row is not None and not ctx.dry_run:
            row["data"]["revision"] = row["data"].get("revision", 0) + 1
        return super().idsync_update(ctx)


class UpdateWritesAnotherValue(MemoryTarget):
    """An update that writes a different value than asked."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        changes = {k: c.model_copy(update={"after": f"{c.after}!"}) for k, c in ctx.changes.items()}
        result = super().idsync_update(ctx.model_copy(update={"changes": changes}))
        return result.model_copy(update={"data": {**ctx.account}})


class UpdateSkipsTheChange(MemoryTarget):
    """An update that answers success and writes nothing."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        if ctx.reference not in self.memory.accounts:
            return super().idsync_update(ctx)
        return ActionResult(reference=ctx.reference, data=dict(ctx.account))


class UpdateDataNotAsWritten(MemoryTarget):
    """An update whose ActionResult.data is not what it wrote."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        return super().idsync_update(ctx).model_copy(update={"data": {}})


class WritesEveryUpdate(MemoryTarget):
    """An update that writes even when nothing changed."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append(f"PUT {ctx.reference}")
        return super().idsync_update(ctx)


class UpdateOfTheGoneSucceeds(MemoryTarget):
    """An update of a missing account that answers success."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_update(ctx)
        return ActionResult(reference=ctx.reference) if result.not_found else result


class FailsWithoutAMessage(MemoryTarget):
    """A failure that does not say what failed."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        return super().idsync_update(ctx).model_copy(update={"messages": []})


class BlockedYetSucceeded(MemoryTarget):
    """An answer that is blocked and successful at once."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(ctx).model_copy(update={"blocked": True})


class EnableThatDoesNot(MemoryTarget):
    """An enable that answers success and leaves the account disabled."""

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        return ActionResult(reference=ctx.reference)


class EnablesAgain(MemoryTarget):
    """An enable that writes again when the account is enabled already."""

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append(f"enable {ctx.reference}")
        return super().idsync_enable(ctx)


class DisableThatDoesNot(MemoryTarget):
    """A disable that answers success and leaves the account enabled."""

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        return ActionResult(reference=ctx.reference)


class DeleteKeepsTheAccount(MemoryTarget):
    """A delete that answers success and keeps the account as it was."""

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        if ctx.reference not in self.memory.accounts:
            return super().idsync_delete(ctx)
        return ActionResult(reference=ctx.reference)


class DeleteOfTheGoneFails(MemoryTarget):
    """A delete of an account already gone that fails."""

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        if ctx.reference not in self.memory.accounts:
            return ActionResult(success=False, messages=["404"])
        return super().idsync_delete(ctx)


class DeleteOfTheGoneSaysNothing(MemoryTarget):
    """A delete of an account already gone that does not say so."""

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        return super().idsync_delete(ctx).model_copy(update={"not_found": False})


class DisableOfTheGoneFails(MemoryTarget):
    """A disable of an account already gone that fails."""

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_disable(ctx)
        return result.model_copy(update={"success": False}) if result.not_found else result


class GrantToTheWrongAccount(MemoryTarget):
    """A grant that goes to the first account of the store, not to ctx.reference."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        first = next(iter(self.memory.accounts), ctx.reference)
        return super().idsync_grant(ctx.model_copy(update={"reference": first}))


class GrantThatDoesNot(MemoryTarget):
    """A grant that answers success and grants nothing."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        if ctx.permission.name not in self.memory.groups:
            return super().idsync_grant(ctx)
        return ActionResult(reference=self.memory.groups[ctx.permission.name])


class GrantsAgain(MemoryTarget):
    """A grant that writes again when the permission is held already."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_grant(ctx)
        if result.success and not ctx.dry_run:
            self.memory.writes.append("grant again")
        return result


class GrantFailsVaguely(MemoryTarget):
    """A grant of a missing permission whose failure does not name it."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_grant(ctx)
        return result if result.success else ActionResult(success=False, messages=["failed"])


class GrantOfTheMissingSucceeds(MemoryTarget):
    """A grant of a permission that does not exist that answers success."""

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_grant(ctx)
        return result if result.success else ActionResult(messages=["granted"])


class RevokeThatDoesNot(MemoryTarget):
    """A revoke that answers success and leaves the permission held."""

    @hookimpl
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        return ActionResult(messages=["revoked"])


class RevokeSaysNothing(MemoryTarget):
    """A revoke of a permission not held that does not say so."""

    @hookimpl
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_revoke(ctx)
        return result.model_copy(update={"not_found": False, "messages": []})


class ResourceAnotherEachTime(MemoryTarget):
    """A resource made anew every time it is ensured."""

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append("resource")
        return ActionResult(reference=f"r{len(self.memory.writes)}")


class ResourceNotMade(MemoryTarget):
    """A resource that answers a reference and makes nothing."""

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        return ActionResult(reference=f"g-{ctx.permission.name}")


class ResourceWithAnotherReference(MemoryTarget):
    """A resource whose answered reference is not the one the target lists."""

    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_resource(ctx)
        return result.model_copy(update={"reference": f"{result.reference}-x"})


class ListsUnknownKinds(MemoryTarget):
    """A permissions listing with a kind that about does not name."""

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> list[Permission]:
        return [*super().idsync_permissions(ctx), Permission(kind="role", name="Admin")]


class LeaksTheToken(MemoryTarget):
    """A create whose message shows the token."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        assert self.settings is not None
        result = super().idsync_create(ctx)
        result.messages.append(f"used {self.settings.token.get_secret_value()}")
        return result


class RaisesWithTheToken(MemoryTarget):
    """An exception whose text shows the token."""

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        assert self.settings is not None
        if ctx.reference not in self.memory.accounts:
            raise RuntimeError(f"no account (token {self.settings.token.get_secret_value()})")
        return super().idsync_update(ctx)


class ConnectionCheckLies(MemoryTarget):
    """A connection test that succeeds when the token is refused."""

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        return ActionResult(messages=["the store answered"])


class ConnectionCheckWrites(MemoryTarget):
    """A connection test that writes."""

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append("POST /probe")
        return super().idsync_check_connection(ctx)


class ConnectionCheckShowsTheToken(MemoryTarget):
    """A connection test whose failure shows the refused token."""

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_check_connection(ctx)
        assert self.settings is not None
        token = self.settings.token.get_secret_value()
        return result if result.success else ActionResult(success=False, messages=[token])


class PlainTokenSettings(BaseModel):
    """A token that is plain text."""

    model_config = ConfigDict(extra="forbid")

    store: str = Field(description="The store.")
    api_token: str = Field(description="Shown everywhere.")


class PlainToken(MemoryTarget):
    """Settings that keep a token in plain text."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"settings": PlainTokenSettings})

    @hookimpl
    def idsync_check_connection(self, ctx: HookContext) -> ActionResult:
        return ActionResult(messages=["the store answered"])


class LaxSettings(BaseModel):
    """Takes any key."""

    store: str
    token: SecretStr = Field(description="A credential.")


class Lax(MemoryTarget):
    """Settings that take any key, so a typo goes unnoticed."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"settings": LaxSettings})


class SaysItIsASource(MemoryTarget):
    """A target that calls itself a source."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"kind": PluginKind.SOURCE})


class NameWithSpaces(MemoryTarget):
    """A plugin name with a space in it."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"name": "memory store"})


class PassesBadRowsOn(MemorySource):
    """A source that passes a row without a family name on instead of blocking it."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        assert self.settings is not None
        yield from STORES[self.settings.store].rows


class RaisesOnABadRow(MemorySource):
    """A source that raises on a bad row, which would stop the whole import."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        for item in super().idsync_persons(ctx):
            if isinstance(item, Blocked):
                raise ValueError(f"row {item.person} has no family name")
            yield item


class StopsAtABadRow(MemorySource):
    """A source that yields nothing after the first bad row."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        assert self.settings is not None
        rows = STORES[self.settings.store].rows
        bad = next((i for i, r in enumerate(rows) if not r["name"]["family"]), None)
        for item in super().idsync_persons(ctx):
            yield item
            if bad is not None and isinstance(item, Blocked):
                return
        # with no bad row every person came through


class BlocksVaguely(MemorySource):
    """A block that does not name the field."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        for item in super().idsync_persons(ctx):
            yield item.model_copy(update={"field": ""}) if isinstance(item, Blocked) else item


class YieldsATwin(MemorySource):
    """A source that yields one person twice."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        items = list(super().idsync_persons(ctx))
        yield from [*items, items[0]]


class YieldsUnvalidatedPersons(MemorySource):
    """A source that builds a Person without validation (a control character slips through)."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[Person | Blocked]:
        for item in super().idsync_persons(ctx):
            if isinstance(item, Blocked):
                yield item
            else:
                yield Person.model_construct(
                    external_id=item["external_id"],
                    name=Name.model_construct(family="Jan\u202esen"),
                )


class LosesTheEmail(MemorySource):
    """A source that loses a field: the e-mail address."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        for item in super().idsync_persons(ctx):
            yield item if isinstance(item, Blocked) else {**item, "contact": {}}


class LosesTheDepartment(MemorySource):
    """A source that loses the department of a contract."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        for item in super().idsync_persons(ctx):
            if isinstance(item, Blocked) or not item.get("contracts"):
                yield item
                continue
            contracts = [{**c, "department": None} for c in item["contracts"]]
            yield {**item, "contracts": contracts}


class WritesWhileReading(MemorySource):
    """A source that writes while it reads (marks persons as exported)."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        assert self.settings is not None
        STORES[self.settings.store].writes.append("PATCH /exported")
        yield from super().idsync_persons(ctx)


class DepartmentsLoseTheManager(MemorySource):
    """Departments that lose their manager."""

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> list[dict[str, Any]]:
        return [{**d, "manager": None} for d in super().idsync_departments(ctx)]


class DepartmentsWithAStrangeParent(MemorySource):
    """A department whose parent is not among the departments."""

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> list[dict[str, Any]]:
        return [
            {**d, "parent": d.get("parent") and "GONE"} for d in super().idsync_departments(ctx)
        ]


@dataclass(frozen=True)
class Mutant:
    """One broken plugin, the check that must fail it, and how its message must read."""

    plugin: type
    check: str
    hook: str
    """The hook the message names (the one whose promise is broken)."""
    message: str
    """A regular expression the failure message matches: the broken promise."""
    param: str | None = None
    """The hook the check is parametrised with, for checks that run once per hook."""
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.plugin.__name__

    @property
    def broken(self) -> str:
        return (self.plugin.__doc__ or "").strip()

    @property
    def source(self) -> bool:
        return issubclass(self.plugin, MemorySource)


DRY = "test_dry_run_writes_nothing"
CREATE = "test_create_returns_a_reference_that_correlates"
UPDATE = "test_update_changes_exactly_the_given_attributes"
REPEAT = "test_repeating_is_idempotent"
GONE = "test_already_gone_is_success"
SETTINGS = "test_settings_are_strict_described_and_hide_secrets"
PERSONS = "test_persons_are_valid_and_blocked_rows_say_why"
BAD_ROW = "test_a_bad_row_is_blocked_with_a_reason"
EXPECTED = "test_persons_hold_what_the_endpoint_holds"

DECLARED = "test_declared_attributes_and_kinds_cover_the_sample"

MUTANTS = [
    Mutant(UndeclaredTarget, DECLARED, "idsync_about",
           r"idsync_about: .*declares no attributes, and its connection test accepts a "
           r"mapping key the target cannot have"),
    Mutant(MisdeclaredTarget, DECLARED, "idsync_about",
           r"attribute 'bad name' is not a key .*the sample account's key 'lastName' is not "
           r"among the attributes"),
    Mutant(DryRunCreates, DRY, "idsync_create",
           r"idsync_create under dry-run must write nothing, but wrote 1 time\(s\): create u1",
           param="idsync_create"),
    Mutant(WritesLateUnderDryRun, DRY, "idsync_create",
           r"under dry-run must write nothing, but wrote 1 time\(s\): late POST",
           param="idsync_create"),
    Mutant(DryRunCreateInventsAReference, DRY, "idsync_create",
           "returned the reference 'u-would-be' of an account that does not exist: a dry-run "
           "create returns no reference", param="idsync_create"),
    Mutant(DryRunUpdateWrites, DRY, "idsync_update", "idsync_update under dry-run must write nothing",
           param="idsync_update"),
    Mutant(DryRunDeleteDeletes, DRY, "idsync_delete", "idsync_delete under dry-run must write nothing",
           param="idsync_delete"),
    Mutant(DryRunGrantWrites, DRY, "idsync_grant", "idsync_grant under dry-run must write nothing",
           param="idsync_grant"),
    Mutant(DryRunResourceWrites, DRY, "idsync_resource",
           "idsync_resource under dry-run must write nothing", param="idsync_resource"),
    Mutant(CreatesEnabled, CREATE, "idsync_create", "idsync_create made an enabled account"),
    Mutant(ClaimsAnActiveCreate, "test_an_active_create_is_enabled_when_it_says_so",
           "idsync_create", "answered enabled=True for ctx.active, but the account it made is disabled"),
    Mutant(PlanListingDropsData, "test_a_planning_listing_holds_the_mapped_attributes",
           "idsync_accounts", "answers the created account without the mapped key"),
    Mutant(CreatesWithOtherValues, CREATE, "idsync_create",
           r"the account holds other values than created \(sent, read back\): "
           r"\{'title': \('Tester', '\?'\)\}"),
    Mutant(CreateDropsAnAttribute, CREATE, "idsync_create",
           r"answers the created account without the mapped key\(s\) \['title'\]"),
    Mutant(AnswersInVendorKeys, CREATE, "idsync_create",
           r"without the mapped key\(s\) \['lastName', 'userName'\]: Account.data must use "
           "exactly the pipeline's mapping keys"),
    Mutant(CreateWithoutAReference, CREATE, "idsync_create", "idsync_create returned no reference"),
    Mutant(CorrelateIgnoresTheValue, "test_correlate_finds_nothing_for_an_unknown_value",
           "idsync_correlate", r"idsync_correlate found \['u1'\] for userName = "
           "'idsync-contract-nobody-.*', which nobody holds"),
    Mutant(EverythingIsAvailable, "test_attribute_available_is_false_only_for_other_holders",
           "idsync_attribute_available", "is held by u1 but was called available"),
    Mutant(AccountsSkipsDisabled, "test_accounts_lists_the_created_account", "idsync_accounts",
           "idsync_accounts does not list the created account u1: it must stream every "
           "account, disabled ones too"),
    Mutant(AccountsLoseAnAttribute, "test_accounts_lists_the_created_account", "idsync_accounts",
           r"idsync_accounts answers the created account without the mapped key\(s\) \['title'\]"),
    Mutant(StampsEveryUpdate, UPDATE, "idsync_update",
           r"idsync_update changed attributes that were not asked for \(before, after\): "
           r"\{'revision': \(None, 1\)\}"),
    Mutant(UpdateWritesAnotherValue, UPDATE, "idsync_update",
           r"idsync_update did not write the changed attributes \(before, after\): "
           r"\{'title': \('Tester', 'Boss!'\)\}"),
    Mutant(UpdateSkipsTheChange, UPDATE, "idsync_update",
           r"idsync_update did not write the changed attributes \(before, after\): "
           r"\{'title': \('Tester', 'Tester'\)\}"),
    Mutant(UpdateDataNotAsWritten, UPDATE, "idsync_update",
           "idsync_update: ActionResult.data must hold the attributes as written"),
    Mutant(WritesEveryUpdate, "test_update_without_a_change_writes_nothing", "idsync_update",
           r"idsync_update with empty ctx.changes must write nothing, but wrote 1 time\(s\): PUT u1"),
    Mutant(UpdateOfTheGoneSucceeds, "test_update_of_a_missing_account_is_not_found",
           "idsync_update", "idsync_update of a missing account must fail"),
    Mutant(FailsWithoutAMessage, "test_update_of_a_missing_account_is_not_found", "idsync_update",
           "idsync_update failed without a message: a failure must say what failed"),
    Mutant(BlockedYetSucceeded, CREATE, "idsync_create",
           "idsync_create answered blocked=True with success=True: a blocked action has not succeeded"),
    Mutant(EnableThatDoesNot, REPEAT, "idsync_enable",
           "idsync_enable left the account enabled=False; it must be True afterwards",
           param="idsync_enable"),
    Mutant(EnablesAgain, REPEAT, "idsync_enable", "idsync_enable repeated must write nothing",
           param="idsync_enable"),
    Mutant(DisableThatDoesNot, REPEAT, "idsync_disable",
           "idsync_disable left the account enabled=True; it must be False afterwards",
           param="idsync_disable"),
    Mutant(DeleteKeepsTheAccount, "test_delete_removes_the_account", "idsync_delete",
           "idsync_delete answered success, but the account u1 still correlates, unchanged"),
    Mutant(DeleteOfTheGoneFails, GONE, "idsync_delete",
           "idsync_delete of a missing account must succeed when the object is already gone",
           param="idsync_delete"),
    Mutant(DeleteOfTheGoneSaysNothing, GONE, "idsync_delete",
           "idsync_delete of a missing account of something already gone must say not_found=True",
           param="idsync_delete"),
    Mutant(DisableOfTheGoneFails, GONE, "idsync_disable",
           "idsync_disable of a missing account must succeed when the object is already gone",
           param="idsync_disable"),
    Mutant(GrantToTheWrongAccount, REPEAT, "idsync_grant",
           "idsync_grant of group:Staff: the account u2 does not hold it afterwards",
           param="idsync_grant"),
    Mutant(GrantThatDoesNot, REPEAT, "idsync_grant",
           "idsync_grant of group:Staff: the account u2 does not hold it afterwards",
           param="idsync_grant"),
    Mutant(GrantsAgain, REPEAT, "idsync_grant",
           "idsync_grant of group:Staff repeated must write nothing", param="idsync_grant"),
    Mutant(GrantFailsVaguely, "test_grant_of_a_missing_permission_fails_naming_it", "idsync_grant",
           "the failure must name 'idsync-contract-missing-"),
    Mutant(GrantOfTheMissingSucceeds, "test_grant_of_a_missing_permission_fails_naming_it",
           "idsync_grant", "idsync_grant of the missing group:idsync-contract-missing-.* must fail"),
    Mutant(RevokeThatDoesNot, REPEAT, "idsync_revoke",
           "idsync_revoke of group:Staff no longer granted of something already gone must say "
           "not_found", param="idsync_revoke"),
    Mutant(RevokeSaysNothing, REPEAT, "idsync_revoke",
           "no longer granted must succeed|no longer granted of something already gone must say "
           "not_found",
           param="idsync_revoke"),
    Mutant(ResourceAnotherEachTime, "test_resource_is_created_once", "idsync_resource",
           "idsync_resource ensuring the existing group:idsync-contract-.* must write nothing"),
    Mutant(ResourceNotMade, "test_resource_is_created_once", "idsync_resource",
           r"idsync_resource did not create the missing group:idsync-contract-\w+ \(no write\)"),
    Mutant(ResourceWithAnotherReference, "test_resource_is_created_once", "idsync_resource",
           "idsync_resource made group:idsync-contract-.* with reference 'g-.*-x', but "
           "idsync_permissions lists 'g-"),
    Mutant(ListsUnknownKinds, "test_permissions_are_listed_with_known_kinds", "idsync_permissions",
           r"idsync_permissions lists kinds \['role'\] that are not in about.permission_kinds"),
    Mutant(LeaksTheToken, CREATE, "idsync_create",
           r"the secret setting\(s\) token appeared in the answer of idsync_create"),
    Mutant(RaisesWithTheToken, "test_update_of_a_missing_account_is_not_found", "idsync_update",
           r"the secret setting\(s\) token appeared in the exception idsync_update raised"),
    Mutant(ConnectionCheckLies, "test_check_connection_fails_when_the_credentials_are_refused",
           "idsync_check_connection", "idsync_check_connection reported success with "
           "credentials the endpoint refuses"),
    Mutant(ConnectionCheckWrites, "test_check_connection_succeeds_and_writes_nothing",
           "idsync_check_connection",
           r"idsync_check_connection must write nothing, but wrote 1 time\(s\): POST /probe"),
    Mutant(ConnectionCheckShowsTheToken,
           "test_check_connection_fails_when_the_credentials_are_refused",
           "idsync_check_connection",
           r"the secret setting\(s\) token \(other\) appeared in the answer of "
           "idsync_check_connection"),
    Mutant(PlainToken, SETTINGS, "idsync_about",
           r"settings that hold a secret must be SecretStr, not str: \['api_token'\]",
           overrides={"settings": lambda memory: {"store": memory.name, "api_token": TOKEN}}),
    Mutant(Lax, SETTINGS, "idsync_about", "idsync_about: the settings LaxSettings must refuse unknown keys"),
    Mutant(SaysItIsASource, "test_kind_matches_the_implemented_hooks", "idsync_about",
           "idsync_about: a source plugin must implement idsync_persons"),
    Mutant(NameWithSpaces, "test_about_describes_the_plugin", "idsync_about",
           "idsync_about: about.name 'memory store' contains spaces"),
    Mutant(PassesBadRowsOn, BAD_ROW, "idsync_persons", "idsync_persons: no blocked row names '3'"),
    Mutant(RaisesOnABadRow, BAD_ROW, "idsync_persons",
           "idsync_persons raised ValueError: row 3 has no family name"),
    Mutant(StopsAtABadRow, BAD_ROW, "idsync_persons",
           r"idsync_persons: one bad row cost other persons too: \['2'\]"),
    Mutant(BlocksVaguely, BAD_ROW, "idsync_persons",
           "idsync_persons: blocked rows must name the person, the field and the problem"),
    Mutant(YieldsATwin, PERSONS, "idsync_persons",
           r"idsync_persons yielded external ids more than once: \['1'\]"),
    Mutant(YieldsUnvalidatedPersons, PERSONS, "idsync_persons",
           r"idsync_persons yielded persons that are not valid \(block them instead\):\s+"
           r"row 0 \(external_id '1'\): name.family: contains control characters"),
    Mutant(LosesTheEmail, EXPECTED, "idsync_persons",
           "idsync_persons: person 1 does not hold what the endpoint holds .*contact.email: "
           "'jansen@example.org', None"),
    Mutant(LosesTheDepartment, EXPECTED, "idsync_persons",
           "idsync_persons: person 1 .*contracts.0.department: \\{'code': 'ICT'\\}, None"),
    Mutant(WritesWhileReading, PERSONS, "idsync_persons",
           r"idsync_persons must write nothing, but wrote 1 time\(s\): PATCH /exported"),
    Mutant(DepartmentsLoseTheManager, "test_departments_hold_what_the_endpoint_holds",
           "idsync_departments", "idsync_departments: department ICT .*manager: '1', None"),
    Mutant(DepartmentsWithAStrangeParent, "test_departments_are_valid", "idsync_departments",
           r"idsync_departments: departments whose parent is not a department: "
           r"\['ICT \(parent GONE\)'\]"),
]  # fmt: skip
"""The mutation catalogue (the kit's docs page lists it)."""


def _contract_for(mutant: Mutant) -> type[Contract]:
    make = _source if mutant.source else _target
    return make(mutant.plugin, **mutant.overrides)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_the_kit_fails_every_mutant_naming_the_hook_and_the_promise(
    memory: Memory, mutant: Mutant
) -> None:
    contract = _contract_for(mutant)
    assert (mutant.check, mutant.param) in checks(contract), "the check is not collected"
    with pytest.raises(AssertionError) as failed:
        run(contract, mutant.check, memory, mutant.param)
    text = str(failed.value)
    assert re.search(mutant.message, text), text
    assert mutant.hook in text, f"the message does not name {mutant.hook}: {text}"


def test_the_catalogue_breaks_each_promise_once_and_covers_every_hook() -> None:
    assert len({m.plugin for m in MUTANTS}) == len(MUTANTS)
    assert all(m.broken for m in MUTANTS), "every mutant says what it breaks (its docstring)"
    named = {m.hook for m in MUTANTS}
    implemented = set(checks(_target(MemoryTarget))) | set(checks(_source(MemorySource)))
    hooks = {f"idsync_{h}" for h in ("about", "check_connection", "correlate", "create")}
    assert hooks <= named
    assert {m.check for m in MUTANTS} == {c for c, _ in implemented}, (
        "every check of the kit fails at least one mutant"
    )


# --- counting writes on a simulator -------------------------------------------------------


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_simulator_writes_reads_the_log_in_process_and_over_http(idsync_serve: Any) -> None:
    app = Simulated(_echo)
    server = idsync_serve(app)
    with httpx.Client(base_url=f"{server.url}/api/v1") as client:
        client.get("/users")
        client.post("/users", json={"userName": "a"})
        client.delete("/users/7")
    over_http = simulator_writes(f"{server.url}/api/v1")
    in_process = simulator_writes(app)
    assert [(w.method, w.path) for w in over_http] == [
        ("POST", "/api/v1/users"),
        ("DELETE", "/api/v1/users/7"),
    ]
    assert [(w.method, w.path, w.body) for w in in_process] == [
        ("POST", "/api/v1/users", {"userName": "a"}),
        ("DELETE", "/api/v1/users/7", None),
    ]


# --- what the checks leave behind, names, locks and client-side write counting -------------


def test_the_checks_remove_what_they_create(memory: Memory) -> None:
    made: list[Created] = []

    def cleanup(memory: Memory, created: Created) -> None:
        made.append(created)
        for resource in created.resources:
            memory.groups.pop(resource.name, None)

    contract = _target(MemoryTarget, cleanup=cleanup)
    for check, hook in checks(contract):
        run(contract, check, memory, hook)
    assert memory.accounts == {}, "every account a check created is deleted again"
    assert set(memory.groups) == {"Staff"}, "the resources went through cleanup="
    assert sum(len(c.accounts) for c in made) >= 20
    assert all(c.prefix == made[0].prefix for c in made)


def test_a_cleanup_that_fails_fails_the_check(memory: Memory) -> None:
    def cleanup(created: Created) -> None:
        raise RuntimeError("the tenant is read-only")

    contract = _target(MemoryTarget, cleanup=cleanup)
    with pytest.raises(AssertionError, match="could not remove what it created: cleanup= raised"):
        run(contract, CREATE, memory)


def test_unique_names_carry_the_run_and_are_new_each_time() -> None:
    names = [unique() for _ in range(500)]
    assert len(set(names)) == 500
    assert all(n.startswith(sharing.RUN) and n.isalnum() for n in names)


def test_an_exclusive_hold_keeps_other_processes_out(tmp_path: Path) -> None:
    """A process holding the lock shared waits while another holds it exclusively."""
    key = f"test-{tmp_path.name}"
    log = tmp_path / "order.txt"
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from idsync.testing.sharing import EndpointLock
        lock = EndpointLock({key!r})
        log = Path({str(log)!r})
        with lock.exclusive():
            Path(sys.argv[1]).write_text("held")
            with log.open("a") as f:
                f.write("exclusive start\\n")
            time.sleep(0.3)
            with log.open("a") as f:
                f.write("exclusive end\\n")
        """
    )
    ready = tmp_path / "ready"
    first = subprocess.Popen([sys.executable, "-c", holder, str(ready)])
    try:
        for _ in range(500):
            if ready.exists():
                break
            time.sleep(0.01)
        assert ready.exists(), "the first process never took the lock"
        lock = sharing.EndpointLock(key)
        with lock.shared(), log.open("a") as f:
            f.write("shared\n")
        lock.close()
    finally:
        assert first.wait(timeout=30) == 0
    assert log.read_text().splitlines() == ["exclusive start", "exclusive end", "shared"]


def test_sent_writes_counts_what_this_process_sent(idsync_serve: Any) -> None:
    server = idsync_serve(Simulated(_echo))
    before = len(sent_writes())
    with ApiClient(server.url, retries=0) as api:
        api.get("/users")
        api.request("POST", "/users", json={"userName": "a"})
        api.request("PATCH", "/users/7", json={"x": 1}, params={"secret": "not shown"})
    new = sent_writes()[before:]
    assert new == [f"POST {server.url}/users", f"PATCH {server.url}/users/7"]
