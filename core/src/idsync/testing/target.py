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

from idsync.model import ActionResult, Permission
from idsync.testing.accounts import AccountChecks
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


class TargetContract(AccountChecks, Contract):
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
        _gone(again, f"idsync_revoke of {permission.key} no longer granted")
        self._holds(h, reference, permission, False)

    @staticmethod
    def _holds(
        h: TargetHarness, reference: str, permission: Permission, present: bool, asked: bool = True
    ) -> None:
        if "idsync_accounts" not in h.hooks:
            return
        account = h.listed(reference)
        assert account is not None, f"idsync_accounts does not list the account {reference}"
        if (permission.key in account.permissions) is present:
            return
        hook = "idsync_grant" if present or not asked else "idsync_revoke"
        if not asked:
            why = f"gave {permission.key} to {reference} too, which was not asked for"
        elif present:
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
