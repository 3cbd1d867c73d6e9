"""The contract of a target plugin, checked against a live endpoint.

:func:`target_contract` returns a pytest class; each check creates its own sample account
(``sample=``), so the checks are independent and may run in any order or in parallel workers.
What each check proves is in its docstring; the hook specs (:mod:`idsync.hookspecs`) are the
contract they check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from idsync.model import Account, ActionKind, ActionResult, Change, Permission
from idsync.testing.contract import Contract, caller_module, needs, over
from idsync.testing.declared import declaration_problems
from idsync.testing.harness import TargetHarness
from idsync.testing.spec import PermissionLike, Sample, SettingsFactory, TargetSpec, WritesProbe

__all__ = ["TargetContract", "target_contract"]

WRITE_HOOKS = (
    "idsync_create",
    "idsync_update",
    "idsync_enable",
    "idsync_disable",
    "idsync_delete",
    "idsync_grant",
    "idsync_revoke",
    "idsync_resource",
)

_CREATE = frozenset({"idsync_create"})


def _gone(result: ActionResult, what: str) -> None:
    assert result.success, f"{what} must succeed when the object is already gone: {result.messages}"
    assert result.not_found, f"{what} of something already gone must say not_found=True"
    assert result.messages, f"{what} of something already gone must say so in a message"


def _holds_the_sample(hook: str, sample: Sample, account: Account) -> None:
    """The account data holds every attribute the sample was created with, under the
    pipeline's mapping keys and with the values sent (``write_only`` ones aside)."""
    expected = {k: v for k, v in sample.account.items() if k not in set(sample.write_only)}
    missing = sorted(k for k in expected if k not in account.data)
    assert not missing, (
        f"{hook} answers the created account without the mapped key(s) {missing}: "
        "Account.data must use exactly the pipeline's mapping keys (the keys of ctx.account), "
        f"it has {sorted(account.data)}; name attributes the target never reports back in "
        "Sample.write_only"
    )
    differ = {
        key: (value, account.data[key])
        for key, value in expected.items()
        if account.data[key] != value
    }
    assert not differ, (
        f"{hook}: the account holds other values than created (sent, read back): {differ}"
    )


class TargetContract(Contract):
    """Every check of the target contract (made for one plugin by :func:`target_contract`)."""

    spec: ClassVar[TargetSpec]
    harness: ClassVar[type[TargetHarness]] = TargetHarness

    @classmethod
    def check_spec(cls, spec: Any, hooks: frozenset[str]) -> None:
        name = getattr(spec.plugin, "__name__", repr(spec.plugin))
        missing = []
        if hooks & set(WRITE_HOOKS) and spec.writes is None:
            missing.append("writes= (the write probe: dry-run and repeats must write nothing)")
        if "idsync_create" in hooks and spec.sample is None:
            missing.append("sample= (an account to create, find and change)")
        if hooks & {"idsync_grant", "idsync_revoke"} and not spec.permissions:
            missing.append("permissions= (existing permissions to grant and revoke)")
        if "idsync_create" in hooks and not hooks & {"idsync_correlate", "idsync_accounts"}:
            missing.append("a way to read accounts back: implement idsync_correlate")
        if missing:
            raise TypeError(f"target contract of {name}: give " + "; ".join(missing))

    # --- what it declares -------------------------------------------------------------

    @needs("idsync_create", spec="sample")
    def test_declared_attributes_and_kinds_cover_the_sample(
        self, idsync_contract: TargetHarness
    ) -> None:
        """``PluginAbout.attributes`` and ``permission_kinds`` (what ``idsync check`` holds a
        pipeline to) cover the sample account's keys and permissions, and the live schema
        (``idsync_attributes``, when implemented) lists the sample's keys. A plugin that
        declares no attributes must refuse, in its connection test, a mapping key the target
        does not have (``idsync check --connect`` hands it the mapping's keys)."""
        h = idsync_contract
        live = None
        if "idsync_attributes" in h.hooks:
            live = h.call("idsync_attributes", ctx=h.ctx(dry_run=True)) or []
        refuses = False
        if h.about.attributes is None and "idsync_check_connection" in h.hooks:
            # What `idsync check --connect` hands the connection test: the mapping's keys.
            bogus = f"idsyncContractNoSuchKey{h.unique()}"
            with h.read_only("idsync_check_connection"):
                tried = h.act("idsync_check_connection", h.ctx(dry_run=True, account={bogus: None}))
            refuses = not tried.success and any(bogus in m for m in tried.messages)
        problems = declaration_problems(
            h.about,
            h.hooks,
            account=h.sample().account,
            permissions=h.permissions() if h.spec.permissions else (),
            live=live,
            refuses_unknown_keys=refuses,
        )
        assert not problems, (
            "idsync_about: what it declares (idsync check holds pipelines to it): "
            + "; ".join(problems)
        )

    # --- correlate and create ---------------------------------------------------------

    @needs("idsync_correlate", spec="sample")
    def test_correlate_finds_nothing_for_an_unknown_value(
        self, idsync_contract: TargetHarness
    ) -> None:
        """Correlation on a value nobody holds is an empty list (the engine then creates)."""
        h = idsync_contract
        sample = h.sample()
        if "idsync_create" in h.hooks:
            h.create(sample)  # someone to find by mistake
        correlation = sample.correlation.model_copy(
            update={"value": f"idsync-contract-nobody-{h.unique()}"}
        )
        with h.read_only("idsync_correlate"):
            found = [a.reference for a in h.find(correlation)]
        assert found == [], (
            f"idsync_correlate found {found} for {correlation.account_field} = "
            f"{correlation.value!r}, which nobody holds: it must return only the accounts "
            "whose field equals the value"
        )

    @needs("idsync_create")
    def test_create_returns_a_reference_that_correlates(
        self, idsync_contract: TargetHarness
    ) -> None:
        """Create answers the new account's reference; correlating the sample then finds
        exactly that account, disabled, holding the attributes it was created with."""
        h = idsync_contract
        sample = h.sample()
        reference = h.create(sample)
        account = h.account(sample, reference)
        assert account.enabled is not True, (
            "idsync_create made an enabled account: a created account stays disabled until "
            "idsync_enable (the engine enables it when the lifecycle says so)"
        )
        _holds_the_sample("idsync_create", sample, account)

    @needs("idsync_create")
    def test_an_active_create_is_enabled_when_it_says_so(
        self, idsync_contract: TargetHarness
    ) -> None:
        """A create asked to make the account active (``ctx.active``) answers whether it did
        (``enabled``); when it says it did, the account is enabled (the engine then skips the
        enable), and when it did not, the account is disabled as any create's."""
        h = idsync_contract
        sample = h.sample()
        existing = {a.reference for a in h.find(sample.correlation)}
        result = h.act("idsync_create", h.create_ctx(sample, active=True))
        assert result.success, f"idsync_create (active) failed: {result.messages}"
        assert isinstance(result.reference, str), "idsync_create returned no reference"
        h.created.accounts.append(result.reference)
        if result.reference in existing:
            return  # a target that links what exists: not this check's account
        account = h.account(sample, result.reference)
        if result.enabled is True:
            assert account.enabled is not False, (
                "idsync_create answered enabled=True for ctx.active, but the account it made "
                "is disabled: the engine would record an enable that never happened"
            )
        else:
            assert account.enabled is not True, (
                "idsync_create made an enabled account but did not answer enabled=True: the "
                "engine would enable it again, or record it disabled"
            )

    @needs("idsync_accounts", "idsync_create")
    def test_a_planning_listing_holds_the_mapped_attributes(
        self, idsync_contract: TargetHarness
    ) -> None:
        """A listing for a plan (``ctx.action`` is correlate: memberships may be left out)
        still streams every account with its data under the mapping keys, read-only: the
        plan links and checks unique values from it."""
        h = idsync_contract
        sample = h.sample()
        reference = h.create(sample)
        with h.read_only("idsync_accounts"):
            accounts: list[Account] = list(
                h.call("idsync_accounts", ctx=h.ctx(action=ActionKind.CORRELATE)) or []
            )
        listed = next((a for a in accounts if a.reference == reference), None)
        assert listed is not None, (
            f"idsync_accounts for a plan (ctx.action correlate) does not list {reference}"
        )
        _holds_the_sample("idsync_accounts", sample, listed)

    @needs("idsync_attribute_available", "idsync_create")
    def test_attribute_available_is_false_only_for_other_holders(
        self, idsync_contract: TargetHarness
    ) -> None:
        """A value held by an account is taken for others and free for that account itself."""
        h = idsync_contract
        sample = h.sample()
        reference = h.create(sample)
        field, value = sample.correlation.account_field, sample.correlation.value
        ask = h.manager.hook.idsync_attribute_available
        with h.read_only("idsync_attribute_available"):
            assert ask(ctx=h.ctx(), attribute=field, value=value) is False, (
                f"{field} = {value!r} is held by {reference} but was called available"
            )
            assert ask(ctx=h.ctx(reference=reference), attribute=field, value=value) is True, (
                f"{field} = {value!r} is the account's own value but was called taken"
            )
            free = f"{value}-{h.unique()}"
            assert ask(ctx=h.ctx(), attribute=field, value=free) is True, (
                f"{field} = {free!r} is held by nobody but was called taken"
            )

    @needs("idsync_accounts", "idsync_create")
    def test_accounts_lists_the_created_account(self, idsync_contract: TargetHarness) -> None:
        """The accounts import (reconciliation) streams the created account, read-only."""
        h = idsync_contract
        sample = h.sample()
        reference = h.create(sample)
        with h.read_only("idsync_accounts"):
            listed = h.listed(reference)
        assert listed is not None, (
            f"idsync_accounts does not list the created account {reference}: it must stream "
            "every account, disabled ones too"
        )
        _holds_the_sample("idsync_accounts", sample, listed)

    # --- update -----------------------------------------------------------------------

    @needs("idsync_update", "idsync_create")
    def test_update_without_a_change_writes_nothing(self, idsync_contract: TargetHarness) -> None:
        """An update with no changes, and an update repeated once it holds, write nothing."""
        h = idsync_contract
        sample = h.sample()
        assert sample.changes, "sample.changes is empty: name the attributes an update changes"
        reference = h.create(sample)
        with h.writes_nothing("idsync_update with empty ctx.changes"):
            result = h.act(
                "idsync_update",
                h.ctx(reference=reference, account=dict(sample.account), person=sample.person),
            )
        assert result.success, f"idsync_update with nothing to change failed: {result.messages}"
        changes, account = self._changes(sample)
        ctx = h.ctx(
            reference=reference,
            account=account,
            previous=dict(sample.account),
            changes=changes,
            person=sample.person,
        )
        first = h.act("idsync_update", ctx)
        assert first.success, f"idsync_update failed: {first.messages}"
        with h.writes_nothing("idsync_update repeated after it was applied"):
            again = h.act("idsync_update", ctx)
        assert again.success, f"idsync_update repeated failed: {again.messages}"

    @needs("idsync_update", "idsync_create")
    def test_update_changes_exactly_the_given_attributes(
        self, idsync_contract: TargetHarness
    ) -> None:
        """The changed attributes hold their new values afterwards; no other attribute moved."""
        h = idsync_contract
        sample = h.sample()
        assert sample.changes, "sample.changes is empty: name the attributes an update changes"
        reference = h.create(sample)
        before = h.account(sample, reference).data
        changes, account = self._changes(sample)
        result = h.act(
            "idsync_update",
            h.ctx(
                reference=reference,
                account=account,
                previous=dict(sample.account),
                changes=changes,
                person=sample.person,
            ),
        )
        assert result.success, f"idsync_update failed: {result.messages}"
        wrong_data = {
            key: result.data.get(key, "(missing)")
            for key, value in sample.changes.items()
            if result.data.get(key) != value
        }
        assert not wrong_data, (
            f"idsync_update: ActionResult.data must hold the attributes as written; it has "
            f"{wrong_data}"
        )
        after = h.account(sample, reference).data
        unchanged = {
            key: (before.get(key), after.get(key))
            for key, value in sample.changes.items()
            if after.get(key) != value
        }
        assert not unchanged, (
            f"idsync_update did not write the changed attributes (before, after): {unchanged}"
        )
        ignore = set(sample.changes) | set(sample.may_change)
        moved = {
            key: (before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if key not in ignore and before.get(key) != after.get(key)
        }
        assert not moved, (
            f"idsync_update changed attributes that were not asked for (before, after): {moved}"
        )

    @needs("idsync_update", spec="sample")
    def test_update_of_a_missing_account_is_not_found(self, idsync_contract: TargetHarness) -> None:
        """An update of an account that no longer exists fails with ``not_found=True``."""
        h = idsync_contract
        sample = h.sample()
        changes, account = self._changes(sample)
        with h.writes_nothing("idsync_update of a missing account"):
            result = h.act(
                "idsync_update",
                h.ctx(reference=h.missing_reference(), account=account, changes=changes),
            )
        assert not result.success, "idsync_update of a missing account must fail"
        assert result.not_found, "idsync_update of a missing account must say not_found=True"

    # --- delete -------------------------------------------------------------------------

    @needs("idsync_delete", "idsync_create")
    def test_delete_removes_the_account(self, idsync_contract: TargetHarness) -> None:
        """After a delete the account no longer correlates. A target that never deletes
        clears the account instead: it still correlates, with other data than before (or,
        given ``Sample.after_delete``, with exactly those attributes)."""
        h = idsync_contract
        sample = h.sample()
        reference = h.create(sample)
        before = h.account(sample, reference).data
        self._ok(h, "idsync_delete", h.ctx(reference=reference, person=sample.person))
        h.deleted(reference)
        found = {a.reference: a for a in h.find(sample.correlation)}
        if reference not in found:
            assert sample.after_delete is None, (
                f"idsync_delete: the account {reference} is gone, but Sample.after_delete "
                "says the target keeps it"
            )
            return
        data = found[reference].data
        if sample.after_delete is None:
            assert data != before, (
                f"idsync_delete answered success, but the account {reference} still "
                "correlates, unchanged: it must delete the account (or, for a target that "
                "never deletes, clear it)"
            )
            return
        left = {
            key: (value, data.get(key, "(missing)"))
            for key, value in sample.after_delete.items()
            if data.get(key, "(missing)") != value
        }
        assert not left, (
            f"idsync_delete did not clear the account {reference} (expected, found): {left}"
        )

    @staticmethod
    def _changes(sample: Sample) -> tuple[dict[str, Change], dict[str, Any]]:
        changes = {
            key: Change(before=sample.account.get(key), after=value)
            for key, value in sample.changes.items()
        }
        return changes, {**sample.account, **sample.changes}

    # --- enable, disable, delete, grant, revoke: repeats and what is gone -------------

    @over(
        {
            "idsync_enable": _CREATE,
            "idsync_disable": _CREATE,
            "idsync_delete": _CREATE,
            "idsync_grant": _CREATE,
            "idsync_revoke": _CREATE | {"idsync_grant"},
        }
    )
    def test_repeating_is_idempotent(self, idsync_contract: TargetHarness, hook: str) -> None:
        """Done twice, the second call succeeds; enable, disable, grant and revoke read before
        they write, so the repeat writes nothing (a crash or retry never touches the system)."""
        h = idsync_contract
        bystander: str | None = None
        if hook == "idsync_grant" and "idsync_accounts" in h.hooks:
            bystander = h.create(h.sample())  # an account a wrong grant could reach
        sample = h.sample()
        reference = h.create(sample)
        if hook in ("idsync_grant", "idsync_revoke"):
            for permission in h.permissions():
                self._repeat_permission(h, hook, reference, permission)
                if bystander is not None:
                    self._holds(h, bystander, permission, False, asked=False)
            return
        if hook == "idsync_disable" and "idsync_enable" in h.hooks:
            self._ok(h, "idsync_enable", h.ctx(reference=reference))
        ctx = h.ctx(reference=reference, previous=dict(sample.account), person=sample.person)
        self._ok(h, hook, ctx)
        if hook == "idsync_delete":
            h.deleted(reference)
            again = h.act(hook, ctx)
            assert again.success, f"idsync_delete repeated failed: {again.messages}"
            if reference not in {a.reference for a in h.find(sample.correlation)}:
                assert again.not_found, (
                    "idsync_delete repeated must say not_found=True: the account is gone"
                )
            return
        with h.writes_nothing(f"{hook} repeated"):
            self._ok(h, hook, ctx, "repeated")
        state = h.account(sample, reference).enabled
        wanted = hook == "idsync_enable"
        assert state in (None, wanted), (
            f"{hook} left the account enabled={state}; it must be {wanted} afterwards"
        )

    @staticmethod
    def _ok(h: TargetHarness, hook: str, ctx: Any, how: str = "") -> ActionResult:
        result = h.act(hook, ctx)
        assert result.success, f"{how} {hook} failed: {result.messages}".strip()
        return result

    def _repeat_permission(
        self, h: TargetHarness, hook: str, reference: str, permission: Permission
    ) -> None:
        ctx = h.ctx(reference=reference, permission=permission)
        self._ok(h, "idsync_grant", ctx)
        if hook == "idsync_grant":
            with h.writes_nothing(f"idsync_grant of {permission.key} repeated"):
                self._ok(h, "idsync_grant", ctx, "repeated")
            self._holds(h, reference, permission, True)
            return
        self._ok(h, "idsync_revoke", ctx)
        with h.writes_nothing(f"idsync_revoke of {permission.key} repeated"):
            again = h.act("idsync_revoke", ctx)
        _gone(again, f"idsync_revoke of {permission.key} no longer held")
        self._holds(h, reference, permission, False)

    @staticmethod
    def _holds(
        h: TargetHarness, reference: str, permission: Permission, held: bool, asked: bool = True
    ) -> None:
        if "idsync_accounts" not in h.hooks:
            return
        account = h.listed(reference)
        assert account is not None, f"idsync_accounts does not list the account {reference}"
        if (permission.key in account.permissions) is held:
            return
        hook = "idsync_grant" if held or not asked else "idsync_revoke"
        if not asked:
            why = f"gave {permission.key} to {reference} too, which was not asked for"
        elif held:
            why = f"of {permission.key}: the account {reference} does not hold it afterwards"
        else:
            why = f"of {permission.key}: the account {reference} still holds it afterwards"
        raise AssertionError(
            f"{hook} {why} (idsync_accounts lists {account.permissions}); it must change "
            "ctx.reference, and only that account"
        )

    @over({"idsync_disable": (), "idsync_delete": (), "idsync_revoke": ()})
    def test_already_gone_is_success(self, idsync_contract: TargetHarness, hook: str) -> None:
        """Disable, delete or revoke of an account that is gone succeeds with
        ``not_found=True`` and a warning; so does revoking a permission that does not exist.
        (A write that finds nothing, such as a DELETE answered 404, is allowed here.)"""
        h = idsync_contract
        missing = h.missing_reference()
        if hook != "idsync_revoke":
            _gone(h.act(hook, h.ctx(reference=missing)), f"{hook} of a missing account")
            return
        for permission in h.permissions():
            result = h.act("idsync_revoke", h.ctx(reference=missing, permission=permission))
            _gone(result, f"idsync_revoke of {permission.key} from a missing account")
        if "idsync_create" not in h.hooks:
            return
        reference = h.create(h.sample())
        for kind in sorted({p.kind for p in h.permissions()}):
            ghost = Permission(kind=kind, name=f"idsync-contract-missing-{h.unique()}")
            result = h.act("idsync_revoke", h.ctx(reference=reference, permission=ghost))
            _gone(result, f"idsync_revoke of the missing {ghost.key}")

    @needs("idsync_grant", "idsync_create")
    def test_grant_of_a_missing_permission_fails_naming_it(
        self, idsync_contract: TargetHarness
    ) -> None:
        """Granting a permission that does not exist fails with a message naming it."""
        h = idsync_contract
        reference = h.create(h.sample())
        for kind in sorted({p.kind for p in h.permissions()}):
            ghost = Permission(kind=kind, name=f"idsync-contract-missing-{h.unique()}")
            with h.writes_nothing(f"idsync_grant of the missing {ghost.key}"):
                result = h.act("idsync_grant", h.ctx(reference=reference, permission=ghost))
            assert not result.success, f"idsync_grant of the missing {ghost.key} must fail"
            assert any(ghost.name in m for m in result.messages), (
                f"idsync_grant of the missing {ghost.key}: the failure must name "
                f"{ghost.name!r}: {result.messages}"
            )

    @needs("idsync_permissions")
    def test_permissions_are_listed_with_known_kinds(self, idsync_contract: TargetHarness) -> None:
        """The permissions listing is read-only, uses the kinds ``about`` names, and holds the
        permissions the grant checks use."""
        h = idsync_contract
        with h.read_only("idsync_permissions"):
            listed: list[Permission] = h.call("idsync_permissions", ctx=h.ctx())
        kinds = set(h.about.permission_kinds)
        strange = sorted({p.kind for p in listed} - kinds)
        assert not strange, (
            f"idsync_permissions lists kinds {strange} that are not in "
            f"about.permission_kinds {sorted(kinds)}"
        )
        if h.spec.permissions:
            keys = {p.key for p in listed}
            absent = [p.key for p in h.permissions() if p.key not in keys]
            assert not absent, f"idsync_permissions does not list {absent}"

    # --- resources --------------------------------------------------------------------

    @needs("idsync_resource")
    def test_resource_is_created_once(self, idsync_contract: TargetHarness) -> None:
        """A missing resource is created and its reference returned; ensuring it again
        returns the same reference and writes nothing."""
        h = idsync_contract
        resource = h.resource()
        with h.writes_during() as made:
            first = self._ok(h, "idsync_resource", h.ctx(permission=resource))
        h.made_resource(resource.model_copy(update={"reference": first.reference}))
        assert made, f"idsync_resource did not create the missing {resource.key} (no write)"
        assert first.reference, f"idsync_resource of {resource.key} returned no reference"
        with h.writes_nothing(f"idsync_resource ensuring the existing {resource.key}"):
            second = self._ok(h, "idsync_resource", h.ctx(permission=resource), "repeated")
        assert second.reference == first.reference, (
            f"idsync_resource of {resource.key} answered {first.reference!r}, then "
            f"{second.reference!r}: ensuring it again must return the same reference"
        )
        if "idsync_permissions" in h.hooks:
            listed = {p.key: p.reference for p in h.call("idsync_permissions", ctx=h.ctx())}
            assert listed.get(resource.key, "(missing)") == first.reference, (
                f"idsync_resource made {resource.key} with reference {first.reference!r}, but "
                f"idsync_permissions lists {listed.get(resource.key, 'nothing')!r} for it"
            )

    # --- dry-run ----------------------------------------------------------------------

    @over(
        {
            "idsync_create": (),
            "idsync_update": _CREATE,
            "idsync_enable": _CREATE,
            "idsync_disable": _CREATE,
            "idsync_delete": _CREATE,
            "idsync_grant": _CREATE,
            "idsync_revoke": _CREATE | {"idsync_grant"},
            "idsync_resource": (),
        }
    )
    def test_dry_run_writes_nothing(self, idsync_contract: TargetHarness, hook: str) -> None:
        """With ``ctx.dry_run`` the hook reads what it needs and succeeds, but never writes,
        even when a real call would."""
        h = idsync_contract
        if hook == "idsync_resource":
            resource = h.resource()
            with h.writes_nothing("idsync_resource under dry-run"):
                self._ok(h, hook, h.ctx(permission=resource, dry_run=True), "dry-run")
            return
        sample = h.sample()
        if hook == "idsync_create":
            with h.writes_nothing("idsync_create under dry-run"):
                result = self._ok(h, hook, h.create_ctx(sample, dry_run=True), "dry-run")
            if result.reference is not None:
                existing = [a.reference for a in h.find(sample.correlation)]
                assert result.reference in existing, (
                    f"idsync_create under dry-run returned the reference {result.reference!r} "
                    "of an account that does not exist: a dry-run create returns no reference "
                    "(the engine then shows the person's next actions as following the create)"
                )
            return
        reference = h.create(sample)
        if hook == "idsync_disable" and "idsync_enable" in h.hooks:
            self._ok(h, "idsync_enable", h.ctx(reference=reference))
        calls: list[dict[str, Any]] = []
        if hook in ("idsync_grant", "idsync_revoke"):
            for permission in h.permissions():
                if hook == "idsync_revoke":
                    self._ok(h, "idsync_grant", h.ctx(reference=reference, permission=permission))
                calls.append({"permission": permission})
        elif hook == "idsync_update":
            assert sample.changes, "sample.changes is empty: name the attributes an update changes"
            changes, account = self._changes(sample)
            calls.append({"account": account, "changes": changes, "person": sample.person})
        else:
            calls.append({"previous": dict(sample.account), "person": sample.person})
        for values in calls:
            with h.writes_nothing(f"{hook} under dry-run"):
                self._ok(h, hook, h.ctx(reference=reference, dry_run=True, **values), "dry-run")


def target_contract(
    plugin: Callable[..., Any],
    settings: SettingsFactory,
    *,
    writes: WritesProbe | None = None,
    sample: Callable[..., Sample] | None = None,
    permissions: Callable[..., Iterable[PermissionLike]] | Sequence[PermissionLike] = (),
    resource: Callable[..., PermissionLike] | None = None,
    missing_reference: Callable[..., str] | str | None = None,
    refused_settings: SettingsFactory | None = None,
    cleanup: Callable[..., Any] | None = None,
    fixtures: Sequence[str] = (),
    as_of: dt.date | None = None,
    system: str | None = None,
) -> type[TargetContract]:
    """A pytest class checking ``plugin``'s target contract against a live endpoint.

    Assign it to a ``Test…`` name in a test module::

        TestContract = target_contract(
            plugin=MyPlugin,
            settings=lambda server: {"base_url": server.url, "token": "t0ken-for-tests"},
            writes=lambda server: simulator_writes(server.url),
            sample=lambda unique: Sample(
                account={"userName": f"c.{unique}@example.org", "lastName": "Contract"},
                correlation=Correlation(
                    person_field="external_id", account_field="userName",
                    value=f"c.{unique}@example.org",
                ),
                changes={"lastName": "Changed"},
            ),
            permissions=["group:Staff"],
        )

    Every callable's arguments name pytest fixtures (``unique`` is the kit's: a new short text
    per call). ``settings`` returns the settings model or a mapping validated by it.
    ``writes`` returns the writes the endpoint has seen so far (a number, or a list such as
    :func:`simulator_writes` returns). ``sample`` gives an account to create (or, for a target
    that never creates, to link). ``permissions`` are existing permissions to grant and revoke;
    ``resource`` a resource that does not exist yet (default: a new name of the first
    permission kind); ``missing_reference`` a reference nothing has (default: a random UUID).
    ``refused_settings`` returns settings whose credentials the endpoint refuses (default:
    the settings with every ``SecretStr`` replaced by a wrong value). ``cleanup`` is called
    after every check with ``created`` (:class:`~idsync.testing.Created`): the accounts the
    check created (already deleted through ``idsync_delete`` where implemented) and the
    resources it made, for what no hook removes. ``fixtures`` are more fixtures every check
    uses (e.g. one that seeds the endpoint).
    """
    spec = TargetSpec(
        plugin=plugin,
        settings=settings,
        writes=writes,
        fixtures=tuple(fixtures),
        as_of=as_of,
        system=system,
        sample=sample,
        permissions=permissions if callable(permissions) else tuple(permissions),
        resource=resource,
        missing_reference=missing_reference,
        refused_settings=refused_settings,
        cleanup=cleanup,
    )
    name = f"{getattr(plugin, '__name__', 'Plugin')}TargetContract"
    return type(name, (TargetContract,), {"spec": spec, "__module__": caller_module()})
