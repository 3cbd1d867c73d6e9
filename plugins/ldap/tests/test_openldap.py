"""The ``ldap`` plugin against OpenLDAP: bad input, paging, groups that must keep a member,
renames, TLS and the server's own limits, each failing only the action concerned."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldap3
import pytest
from idsync import Change, Correlation, HookContext, Permission
from idsync_ldap import LdapPlugin, LdapSettings, _passwords
from ldapservers import (
    GROUPS,
    PEOPLE,
    SERVICE,
    SERVICE_PASSWORD,
    SIZE_LIMIT,
    SUFFIX,
    Slapd,
    bind,
    make_certificate,
    slapd_writes,
)
from loguru import logger

Ctx = Callable[..., HookContext]


def _account(unique: str, **extra: Any) -> dict[str, Any]:
    return {
        "uid": f"u{unique}",
        "cn": f"User {unique}",
        "sn": "Test",
        "employeeNumber": f"N{unique}",
        "container": PEOPLE,
        **extra,
    }


def _unique() -> str:
    return uuid.uuid4().hex[:8]


def _create(hook: Any, ctx: Ctx, account: dict[str, Any]) -> Any:
    return hook.idsync_create(ctx=ctx(account=account))


def test_an_attribute_the_schema_refuses_fails_that_create_only(ldap_hook: Any, ctx: Ctx) -> None:
    bad = _account(_unique(), favouriteColour="blue")
    refused = _create(ldap_hook, ctx, bad)
    assert not refused.success
    text = " ".join(refused.messages)
    assert f"uid=u{bad['uid'][1:]},{PEOPLE}" in text
    assert "undefinedAttributeType (17)" in text
    assert "favouriteColour" in text
    not_allowed = _create(ldap_hook, ctx, _account(_unique(), uidNumber="1000"))
    assert not not_allowed.success
    assert "objectClassViolation (65)" in not_allowed.messages[0]
    assert "'uidNumber' not allowed" in not_allowed.messages[0]
    assert _create(ldap_hook, ctx, _account(_unique())).success  # the next one goes on


def test_a_name_that_needs_escaping_makes_a_valid_dn(
    ldap_hook: Any, ctx: Ctx, ldap_admin: ldap3.Connection, slapd: Slapd
) -> None:
    unique = _unique()
    odd = f'Jansen, Piet "PJ" + Co #1 <{unique}>; a\\b '
    account = _account(unique, uid=odd, cn=odd)
    created = _create(ldap_hook, ctx, account)
    assert created.success, created.messages
    ldap_admin.search(PEOPLE, f"(employeeNumber=N{unique})", attributes=["uid", "entryUUID"])
    (entry,) = ldap_admin.entries
    assert entry.uid.value == odd  # the trailing space too: escaped in the DN
    assert entry.entryUUID.value == created.reference
    found = ldap_hook.idsync_correlate(
        ctx=ctx(correlation=Correlation(person_field="x", account_field="cn", value=odd))
    )
    assert [a.reference for a in found] == [created.reference]
    renamed = f"{odd}(2)"
    update = ctx(
        reference=created.reference,
        account={**account, "uid": renamed},
        changes={"uid": Change(before=odd, after=renamed)},
    )
    assert ldap_hook.idsync_update(ctx=update).success
    before = slapd_writes(slapd)
    again = ldap_hook.idsync_update(ctx=update)
    assert again.success, again.messages
    assert slapd_writes(slapd) == before, "a repeated rename wrote again"


def test_a_busy_server_fails_that_action_only_after_retrying(
    make_hook: Any, make_ldap_settings: Callable[..., LdapSettings], ctx: Ctx, slapd: Slapd
) -> None:
    # slapd's retcode overlay answers every add of uid=busy,ou=retcode with "busy" (51).
    hook = make_hook(LdapPlugin(settings=make_ldap_settings(retries=2)))
    before = slapd_writes(slapd)
    busy = _create(hook, ctx, _account(_unique(), uid="busy", container=f"ou=retcode,{SUFFIX}"))
    assert not busy.success
    assert busy.retriable
    assert "busy (51)" in busy.messages[0]
    assert "the server is busy" in busy.messages[0]
    assert slapd_writes(slapd) - before == 3  # the first attempt and two retries
    assert _create(hook, ctx, _account(_unique())).success


def test_the_accounts_import_pages_past_the_servers_size_limit(
    make_hook: Any,
    make_ldap_settings: Callable[..., LdapSettings],
    ctx: Ctx,
    ldap_admin: ldap3.Connection,
    slapd: Slapd,
) -> None:
    unit = f"ou=paged-{_unique()},{PEOPLE}"
    assert ldap_admin.add(unit, ["organizationalUnit"])
    for n in range(SIZE_LIMIT + 15):
        assert ldap_admin.add(f"uid=p{n},{unit}", ["inetOrgPerson"], {"cn": f"P {n}", "sn": "P"})
    hook = make_hook(LdapPlugin(settings=make_ldap_settings(users_base=unit, page_size=10)))
    listed = list(hook.idsync_accounts(ctx=ctx()))
    assert sorted(a.data["uid"] for a in listed) == sorted(f"p{n}" for n in range(SIZE_LIMIT + 15))
    service = bind(slapd.url, SERVICE, SERVICE_PASSWORD)
    service.search(unit, "(objectClass=inetOrgPerson)", attributes=["uid"])
    assert service.result["description"] == "sizeLimitExceeded"  # one page could not do it
    service.unbind()


def test_a_group_of_names_keeps_a_placeholder_when_its_last_member_goes(
    ldap_hook: Any, ctx: Ctx, ldap_admin: ldap3.Connection
) -> None:
    group = Permission(kind="group", name=f"solo-{_unique()}")
    assert ldap_hook.idsync_resource(ctx=ctx(permission=group)).success
    dn = f"cn={group.name},{GROUPS}"
    reference = _create(ldap_hook, ctx, _account(_unique())).reference
    assert ldap_hook.idsync_grant(ctx=ctx(reference=reference, permission=group)).success
    assert _members(ldap_admin, dn) == [_dn_of(ldap_admin, reference)]  # the placeholder went
    assert ldap_hook.idsync_revoke(ctx=ctx(reference=reference, permission=group)).success
    assert _members(ldap_admin, dn) == ["cn=nobody"]
    assert ldap_hook.idsync_grant(ctx=ctx(reference=reference, permission=group)).success
    assert _members(ldap_admin, dn) == [_dn_of(ldap_admin, reference)]


def _members(admin: ldap3.Connection, dn: str) -> list[str]:
    admin.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["member"])
    return [str(m) for m in admin.entries[0].member.values]


def _dn_of(admin: ldap3.Connection, reference: str) -> str:
    admin.search(SUFFIX, f"(entryUUID={reference})", attributes=["1.1"])
    return str(admin.entries[0].entry_dn)


def test_a_rename_and_a_move_keep_the_reference_and_the_memberships(
    ldap_hook: Any, ctx: Ctx, ldap_admin: ldap3.Connection
) -> None:
    unique = _unique()
    account = _account(unique)
    reference = _create(ldap_hook, ctx, account).reference
    staff = Permission(kind="group", name="Staff")
    assert ldap_hook.idsync_grant(ctx=ctx(reference=reference, permission=staff)).success
    target = f"ou=moved-{unique},{PEOPLE}"
    assert ldap_admin.add(target, ["organizationalUnit"])
    wanted = {**account, "uid": f"renamed-{unique}", "container": target}
    changes = {k: Change(before=account[k], after=wanted[k]) for k in ("uid", "container")}
    result = ldap_hook.idsync_update(ctx=ctx(reference=reference, account=wanted, changes=changes))
    assert result.success, result.messages
    new_dn = f"uid=renamed-{unique},{target}"
    assert _dn_of(ldap_admin, reference).lower() == new_dn.lower()
    assert new_dn.lower() in [m.lower() for m in _members(ldap_admin, f"cn=Staff,{GROUPS}")]


def test_connections_are_pooled_within_the_engines_concurrency(
    make_hook: Any, make_ldap_settings: Callable[..., LdapSettings], ctx: Ctx
) -> None:
    plugin = LdapPlugin(settings=make_ldap_settings(connections=3))
    hook = make_hook(plugin)
    results: list[Any] = []

    def work() -> None:
        for _ in range(4):
            results.append(_create(hook, ctx, _account(_unique())))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 32
    assert all(r.success for r in results), [r.messages for r in results if not r.success]
    directory = plugin.directory()
    assert directory.opened <= 3  # never more connections than the pool allows


def test_ldaps_checks_the_certificate(
    make_hook: Any,
    make_ldap_settings: Callable[..., LdapSettings],
    ctx: Ctx,
    slapd: Slapd,
    tmp_path: Path,
) -> None:
    secure = make_ldap_settings(url=slapd.tls_url, start_tls=False)
    assert make_hook(LdapPlugin(settings=secure)).idsync_check_connection(ctx=ctx()).success
    other_ca, _, _ = make_certificate(tmp_path)
    wrong = make_ldap_settings(url=slapd.tls_url, start_tls=False, ca_file=str(other_ca))
    refused = make_hook(LdapPlugin(settings=wrong)).idsync_check_connection(ctx=ctx())
    assert not refused.success
    assert "certificate verify failed" in refused.messages[0]
    unchecked = make_ldap_settings(
        url=slapd.tls_url, start_tls=False, ca_file=str(other_ca), tls_verify=False
    )
    assert make_hook(LdapPlugin(settings=unchecked)).idsync_check_connection(ctx=ctx()).success


def test_insufficient_access_names_the_entry(ldap_hook: Any, ctx: Ctx) -> None:
    elsewhere = _create(ldap_hook, ctx, _account(_unique(), container=f"ou=services,{SUFFIX}"))
    assert not elsewhere.success
    assert "insufficientAccessRights (50)" in elsewhere.messages[0]
    assert f"ou=services,{SUFFIX}" in elsewhere.messages[0]
    assert "grant it the right" in elsewhere.messages[0]


def test_a_random_initial_password_lets_the_user_bind_and_is_never_logged(
    make_hook: Any,
    make_ldap_settings: Callable[..., LdapSettings],
    ctx: Ctx,
    slapd: Slapd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []
    real = _passwords.generate_password

    def spy(length: int) -> str:
        made.append(real(length))
        return made[-1]

    monkeypatch.setattr("idsync_ldap.plugin.generate_password", spy)
    lines: list[str] = []
    sink = logger.add(lines.append, level="TRACE", format="{message} {extra}")
    try:
        hook = make_hook(LdapPlugin(settings=make_ldap_settings(set_password=True)))
        unique = _unique()
        created = _create(hook, ctx, _account(unique))
        assert created.success, created.messages
        assert hook.idsync_enable(ctx=ctx(reference=created.reference)).success
    finally:
        logger.remove(sink)
    (password,) = made
    assert len(password) == 24
    user = bind(slapd.url, f"uid=u{unique},{PEOPLE}", password, auto=False)
    assert user.bind(), user.result
    user.unbind()
    assert password not in " ".join(lines)
    assert password not in created.model_dump_json()


def test_a_disabled_account_is_locked_and_cannot_bind(
    make_hook: Any, make_ldap_settings: Callable[..., LdapSettings], ctx: Ctx, slapd: Slapd
) -> None:
    settings = make_ldap_settings(set_password=True, initial_password="Initial-Secret-42")
    hook = make_hook(LdapPlugin(settings=settings))
    unique = _unique()
    reference = _create(hook, ctx, _account(unique)).reference
    dn = f"uid=u{unique},{PEOPLE}"
    assert not bind(slapd.url, dn, "Initial-Secret-42", auto=False).bind()  # created disabled
    assert hook.idsync_enable(ctx=ctx(reference=reference)).success
    assert bind(slapd.url, dn, "Initial-Secret-42", auto=False).bind()
    assert hook.idsync_disable(ctx=ctx(reference=reference)).success
    assert not bind(slapd.url, dn, "Initial-Secret-42", auto=False).bind()


def test_the_connection_test_holds_the_mapping_to_the_schema(ldap_hook: Any, ctx: Ctx) -> None:
    # What `idsync check --connect` hands it: the mapping's keys (no values), the correlation.
    keys = ["uid", "cn", "surname", "givenName", "mail;lang-en", "employeeNumber", "container"]
    good = ldap_hook.idsync_check_connection(
        ctx=ctx(
            account=dict.fromkeys(keys),
            correlation=Correlation(person_field="id", account_field="employeeNumber", value=None),
        )
    )
    assert good.success, good.messages
    bad = ldap_hook.idsync_check_connection(
        ctx=ctx(
            account=dict.fromkeys(
                ["uid", "givenNmae", "objectClass", "modifyTimestamp", "container"]
            ),
            correlation=Correlation(person_field="id", account_field="employeNumber", value=None),
        )
    )
    assert not bad.success
    assert bad.messages == [
        "mapping: the directory's schema has no attribute 'givenNmae'; did you mean 'givenName'?",
        "mapping: 'objectClass' may not be set: idsync sets it",
        "mapping: the directory sets 'modifyTimestamp' itself (NO-USER-MODIFICATION); "
        "a mapping cannot write it",
        "correlation: the directory's schema has no attribute 'employeNumber'; "
        "did you mean 'employeeNumber'?",
    ]
