"""The target contract's checks of one account's life: correlate, create, read back, update
and delete (a part of :class:`~idsync.testing.TargetContract`)."""

from __future__ import annotations

from typing import Any

from idsync.model import Account, ActionKind, ActionResult, Change
from idsync.testing.contract import needs
from idsync.testing.harness import TargetHarness
from idsync.testing.spec import Sample

__all__ = ["AccountChecks"]


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


class AccountChecks:
    """The checks of one account's life; :class:`~idsync.testing.TargetContract` has them."""

    @staticmethod
    def _ok(h: TargetHarness, hook: str, ctx: Any, how: str = "") -> ActionResult:
        result = h.act(hook, ctx)
        assert result.success, f"{how} {hook} failed: {result.messages}".strip()
        return result

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
