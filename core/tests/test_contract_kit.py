"""The contract kit itself: a plugin that keeps the contract passes every check, and each way
of breaking the contract fails the check that covers it, with a message that says what broke.

The plugins here keep their accounts in memory (a store named in their settings), so every
write is counted exactly; the vendor plugins run the same kit over HTTP in their own tests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from idsync import (
    Account,
    ActionResult,
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
from idsync.simulator import Simulated
from idsync.testing import (
    Sample,
    SourceContract,
    TargetContract,
    simulator_writes,
    source_contract,
    target_contract,
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
            {"external_id": "1", "name": {"family": "Jansen"}},
            {"external_id": "2", "name": {"family": "Bakker"}},
        ]
        self.departments: list[dict[str, Any]] = [
            {"external_id": "ORG", "name": "Organisatie"},
            {"external_id": "ICT", "name": "ICT", "parent": "ORG"},
        ]
        self.writes: list[str] = []


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
        )

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
        reference = f"u{len(self.memory.accounts) + 1}"
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
    assert len(collected) == 29  # every check but the connection test (not implemented)
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


# --- each broken promise fails the check that covers it -------------------------------


class DryRunCreates(MemoryTarget):
    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(ctx.model_copy(update={"dry_run": False}))


class WritesLateUnderDryRun(MemoryTarget):
    """A dry-run create whose write reaches the log a moment after the call returned."""

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        if ctx.dry_run:
            memory = self.memory
            threading.Timer(0.005, lambda: memory.writes.append("late POST")).start()
        return super().idsync_create(ctx)


class CreatesEnabled(MemoryTarget):
    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_create(ctx)
        self.memory.accounts[result.reference or ""]["enabled"] = True
        return result


class CreatesWithOtherValues(MemoryTarget):
    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        return super().idsync_create(
            ctx.model_copy(update={"account": {**ctx.account, "title": "?"}})
        )


class StampsEveryUpdate(MemoryTarget):
    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        row = self.memory.accounts.get(ctx.reference or "")
        if row is not None and not ctx.dry_run:
            row["data"]["revision"] = row["data"].get("revision", 0) + 1
        return super().idsync_update(ctx)


class WritesEveryUpdate(MemoryTarget):
    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append(f"PUT {ctx.reference}")
        return super().idsync_update(ctx)


class EnablesAgain(MemoryTarget):
    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append(f"enable {ctx.reference}")
        return super().idsync_enable(ctx)


class DeleteOfTheGoneFails(MemoryTarget):
    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        if ctx.reference not in self.memory.accounts:
            return ActionResult(success=False, messages=["404"])
        return super().idsync_delete(ctx)


class RevokeSaysNothing(MemoryTarget):
    @hookimpl
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_revoke(ctx)
        return result.model_copy(update={"not_found": False, "messages": []})


class GrantFailsVaguely(MemoryTarget):
    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        result = super().idsync_grant(ctx)
        return result if result.success else ActionResult(success=False, messages=["failed"])


class ResourceAnotherEachTime(MemoryTarget):
    @hookimpl
    def idsync_resource(self, ctx: HookContext) -> ActionResult:
        self.memory.writes.append("resource")
        return ActionResult(reference=f"r{len(self.memory.writes)}")


class LeaksTheToken(MemoryTarget):
    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        assert self.settings is not None
        result = super().idsync_create(ctx)
        result.messages.append(f"used {self.settings.token.get_secret_value()}")
        return result


class PlainTokenSettings(BaseModel):
    """A token that is plain text."""

    model_config = ConfigDict(extra="forbid")

    store: str = Field(description="The store.")
    api_token: str = Field(description="Shown everywhere.")


class PlainToken(MemoryTarget):
    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"settings": PlainTokenSettings})


class LaxSettings(BaseModel):
    """Takes any key."""

    store: str
    token: SecretStr = Field(description="A credential.")


class Lax(MemoryTarget):
    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"settings": LaxSettings})


class SaysItIsASource(MemoryTarget):
    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return super().idsync_about().model_copy(update={"kind": PluginKind.SOURCE})


@pytest.mark.parametrize(
    ("plugin", "check", "hook", "message"),
    [
        (DryRunCreates, "test_dry_run_writes_nothing", "idsync_create",
         r"idsync_create under dry-run must write nothing, but wrote 1 time\(s\): create u1"),
        (WritesLateUnderDryRun, "test_dry_run_writes_nothing", "idsync_create",
         r"under dry-run must write nothing, but wrote 1 time\(s\): late POST"),
        (CreatesEnabled, "test_create_returns_a_reference_that_correlates", None,
         "a created account must be disabled"),
        (CreatesWithOtherValues, "test_create_returns_a_reference_that_correlates", None,
         r"created with other values \(sent, read back\): \{'title': \('Tester', '\?'\)\}"),
        (StampsEveryUpdate, "test_update_changes_exactly_the_given_attributes", None,
         r"changed that were not asked for \(before, after\): \{'revision': \(None, 1\)\}"),
        (WritesEveryUpdate, "test_update_without_a_change_writes_nothing", None,
         r"an update with empty ctx.changes must write nothing, but wrote 1 time\(s\): PUT u1"),
        (EnablesAgain, "test_repeating_is_idempotent", "idsync_enable",
         "idsync_enable repeated must write nothing"),
        (DeleteOfTheGoneFails, "test_already_gone_is_success", "idsync_delete",
         "idsync_delete of a missing account must succeed when the object is already gone"),
        (RevokeSaysNothing, "test_repeating_is_idempotent", "idsync_revoke",
         "no longer held must succeed|no longer held of something already gone must say not_found"),
        (GrantFailsVaguely, "test_grant_of_a_missing_permission_fails_naming_it", None,
         "the failure must name 'idsync-contract-missing-"),
        (ResourceAnotherEachTime, "test_resource_is_created_once", None,
         "ensuring the existing group:idsync-contract-.* must write nothing"),
        (LeaksTheToken, "test_create_returns_a_reference_that_correlates", None,
         r"the secret setting\(s\) token appeared in the answer of idsync_create"),
        (PlainToken, "test_settings_are_strict_described_and_hide_secrets", None,
         r"settings that hold a secret must be SecretStr, not str: \['api_token'\]"),
        (Lax, "test_settings_are_strict_described_and_hide_secrets", None,
         "must refuse unknown keys"),
        (SaysItIsASource, "test_kind_matches_the_implemented_hooks", None,
         "a source plugin must implement idsync_persons"),
    ],
)  # fmt: skip
def test_a_broken_promise_fails_its_check(
    memory: Memory, plugin: type[MemoryTarget], check: str, hook: str | None, message: str
) -> None:
    contract = _target(plugin)
    if plugin in (PlainToken,):
        contract = _target(
            plugin, settings=lambda memory: {"store": memory.name, "api_token": TOKEN}
        )
    with pytest.raises(AssertionError, match=message):
        run(contract, check, memory, hook)


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


class PassesBadRowsOn(MemorySource):
    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any] | Blocked]:
        assert self.settings is not None
        yield from STORES[self.settings.store].rows


class YieldsPersons(MemorySource):
    """Validates its rows itself and yields the persons, as the engine allows; the last one
    built without validation (a plugin bug the engine would not catch)."""

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[Person | Blocked]:
        assert self.settings is not None
        for row in STORES[self.settings.store].rows:
            if row["external_id"] == "bidi":
                yield Person.model_construct(
                    external_id="bidi", name=Name.model_construct(family="Jan\u202esen")
                )
            else:
                yield Person.model_validate(row)


def _no_family(memory: Memory) -> str:
    memory.rows.append({"external_id": "3", "name": {"family": ""}})
    return "3"


def _source(plugin: Any, **overrides: Any) -> type[SourceContract]:
    values: dict[str, Any] = {
        "settings": lambda memory: {"store": memory.name, "token": TOKEN},
        "writes": lambda memory: memory.writes,
        "bad_row": _no_family,
        "min_persons": 2,
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


def test_a_source_that_passes_bad_rows_on_fails(memory: Memory) -> None:
    contract = _source(PassesBadRowsOn)
    with pytest.raises(AssertionError, match="no blocked row names '3'"):
        run(contract, "test_a_bad_row_is_blocked_with_a_reason", memory)
    with pytest.raises(AssertionError, match=r"row 2 \(external_id '3'\): name.family: String"):
        run(contract, "test_persons_are_valid_and_blocked_rows_say_why", memory)


def test_a_yielded_person_is_validated_again_from_its_data(memory: Memory) -> None:
    contract = _source(YieldsPersons)
    run(contract, "test_persons_are_valid_and_blocked_rows_say_why", memory)
    memory.rows.append({"external_id": "bidi", "name": {"family": "unused"}})
    with pytest.raises(
        AssertionError,
        match=r"row 2 \(external_id 'bidi'\): name.family: contains control characters",
    ):
        run(contract, "test_persons_are_valid_and_blocked_rows_say_why", memory)


def test_source_checks_catch_vague_blocks_duplicates_and_orphan_departments(
    memory: Memory,
) -> None:
    contract = _source(MemorySource)
    memory.rows.append({"external_id": "1", "name": {"family": "Twee"}})
    with pytest.raises(AssertionError, match=r"external ids yielded more than once: \['1'\]"):
        run(contract, "test_persons_are_valid_and_blocked_rows_say_why", memory)
    memory.departments.append({"external_id": "DEV", "name": "Dev", "parent": "GONE"})
    with pytest.raises(
        AssertionError, match=r"parent is not a department: \['DEV \(parent GONE\)'\]"
    ):
        run(contract, "test_departments_are_valid", memory)


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
