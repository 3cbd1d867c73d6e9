"""The ``ad`` plugin against Samba AD: passwords and the domain's policy, unique names compared
as AD compares them, the disabled-users OU, strong authentication and certificate names."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import ldap3
import pytest
from idsync import Change, Correlation, HookContext
from idsync_ldap import ActiveDirectoryPlugin, ActiveDirectorySettings, _passwords
from ldapservers import (
    AD_BASE,
    DISABLED,
    EMPLOYEES,
    MIN_PASSWORD,
    SambaDC,
    bind,
    samba_writes,
    writing_to_samba,
)
from loguru import logger

Ctx = Callable[..., HookContext]


@pytest.fixture(autouse=True)
def samba_lock() -> Iterator[Any]:
    """These tests write to the Samba whose writes the contract checks count (and count
    writes themselves: ``with samba_lock.exclusive():``)."""
    with writing_to_samba() as lock:
        yield lock


def _unique() -> str:
    return uuid.uuid4().hex[:8]


def _account(unique: str, **extra: Any) -> dict[str, Any]:
    return {
        "cn": f"User {unique}",
        "sAMAccountName": f"u{unique}",
        "userPrincipalName": f"u{unique}@example.test",
        "sn": "Test",
        "employeeID": f"N{unique}",
        "container": EMPLOYEES,
        **extra,
    }


@pytest.fixture
def spied_passwords(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The random passwords the plugin generates (it still generates them itself)."""
    made: list[str] = []
    real = _passwords.generate_password

    def spy(length: int) -> str:
        made.append(real(length))
        return made[-1]

    monkeypatch.setattr("idsync_ldap.plugin.generate_password", spy)
    return made


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Everything logged during the test."""
    lines: list[str] = []
    sink = logger.add(lines.append, level="TRACE", format="{message} {extra}")
    yield lines
    logger.remove(sink)


def test_a_random_initial_password_lets_the_user_bind(
    ad_hook: Any,
    ctx: Ctx,
    samba: SambaDC,
    spied_passwords: list[str],
    log_lines: list[str],
) -> None:
    unique = _unique()
    created = ad_hook.idsync_create(ctx=ctx(account=_account(unique)))
    assert created.success, created.messages
    assert ad_hook.idsync_enable(ctx=ctx(reference=created.reference)).success
    (password,) = spied_passwords
    user = bind(samba.url, f"u{unique}@example.test", password, tls=True, auto=False)
    assert not user.bind()
    # "data 773": the password is right, and must be changed at first logon.
    assert "data 773" in user.result["message"]
    wrong = bind(samba.url, f"u{unique}@example.test", password + "x", tls=True, auto=False)
    assert not wrong.bind()
    assert "data 52e" in wrong.result["message"]  # a wrong password says so
    assert password not in " ".join(log_lines)
    assert password not in created.model_dump_json()


def test_a_password_the_domain_refuses_fails_that_create_only(
    make_hook: Any,
    make_ad_settings: Callable[..., ActiveDirectorySettings],
    ctx: Ctx,
    ad_admin: ldap3.Connection,
    spied_passwords: list[str],
    log_lines: list[str],
) -> None:
    # The domain wants 20 characters (MIN_PASSWORD); these settings make 16.
    hook = make_hook(ActiveDirectoryPlugin(settings=make_ad_settings(password_length=16)))
    unique = _unique()
    refused = hook.idsync_create(ctx=ctx(account=_account(unique)))
    assert not refused.success
    text = refused.messages[0]
    assert f"cn=User {unique},{EMPLOYEES}".lower() in text.lower()
    assert "constraintViolation (19)" in text
    assert f"password is too short. It should be equal or longer than {MIN_PASSWORD}" in text
    assert "unicodePwd" in text  # the attribute is named, its value never
    (password,) = spied_passwords
    assert password not in text
    assert password not in " ".join(log_lines)
    ad_admin.search(EMPLOYEES, f"(employeeID=N{unique})", attributes=["cn"])
    assert ad_admin.entries == []  # nothing half-made
    strong = make_hook(ActiveDirectoryPlugin(settings=make_ad_settings()))
    assert strong.idsync_create(ctx=ctx(account=_account(_unique()))).success


def test_an_attribute_the_schema_refuses_fails_naming_it(ad_hook: Any, ctx: Ctx) -> None:
    unique = _unique()
    unknown = ad_hook.idsync_create(ctx=ctx(account=_account(unique, favouriteColour="blue")))
    assert not unknown.success
    assert "noSuchAttribute (16)" in unknown.messages[0]
    assert "favouriteColour" in unknown.messages[0]
    too_long = ad_hook.idsync_create(ctx=ctx(account=_account(_unique(), employeeID="x" * 40)))
    assert not too_long.success
    assert "invalidAttributeSyntax (21)" in too_long.messages[0]
    assert "employeeID" in too_long.messages[0]


def test_unique_names_are_compared_as_the_domain_compares_them(
    ad_hook: Any, ctx: Ctx, samba: SambaDC, samba_lock: Any
) -> None:
    unique = _unique()
    created = ad_hook.idsync_create(ctx=ctx(account=_account(unique)))
    assert created.success, created.messages
    ask = ad_hook.idsync_attribute_available
    with samba_lock.exclusive():
        before = samba_writes(samba)
        _ask_everything(ask, ctx, unique, created.reference)
        assert samba_writes(samba) == before


def _ask_everything(ask: Any, ctx: Ctx, unique: str, reference: str) -> None:
    assert ask(ctx=ctx(), attribute="sAMAccountName", value=f"U{unique}".upper()) is False
    assert ask(ctx=ctx(), attribute="userPrincipalName", value=f"U{unique}@EXAMPLE.TEST") is False
    own = ctx(reference=reference)
    assert ask(ctx=own, attribute="sAMAccountName", value=f"U{unique}".upper()) is True
    assert ask(ctx=ctx(), attribute="sAMAccountName", value=f"v{unique}") is True
    # The naming attribute is unique within its container only.
    assert (
        ask(ctx=ctx(account={"container": EMPLOYEES}), attribute="cn", value=f"User {unique}")
        is False
    )
    assert (
        ask(ctx=ctx(account={"container": DISABLED}), attribute="cn", value=f"User {unique}")
        is True
    )


def test_disabled_accounts_are_parked_and_come_back_to_their_ou(
    make_hook: Any,
    make_ad_settings: Callable[..., ActiveDirectorySettings],
    ctx: Ctx,
    ad_admin: ldap3.Connection,
    samba: SambaDC,
    samba_lock: Any,
) -> None:
    hook = make_hook(ActiveDirectoryPlugin(settings=make_ad_settings(disabled_container=DISABLED)))
    unique = _unique()
    account = _account(unique)
    reference = hook.idsync_create(ctx=ctx(account=account)).reference
    assert hook.idsync_enable(ctx=ctx(reference=reference, account=account)).success
    assert _where(ad_admin, unique) == (EMPLOYEES.lower(), 512)
    assert hook.idsync_disable(ctx=ctx(reference=reference)).success
    assert _where(ad_admin, unique) == (DISABLED.lower(), 514)
    with samba_lock.exclusive():
        before = samba_writes(samba)
        again = hook.idsync_disable(ctx=ctx(reference=reference))
        assert samba_writes(samba) == before
    assert again.success
    assert "already disabled" in again.messages[0]
    assert hook.idsync_enable(ctx=ctx(reference=reference, account=account)).success
    assert _where(ad_admin, unique) == (EMPLOYEES.lower(), 512)
    assert hook.idsync_delete(ctx=ctx(reference=reference)).success
    assert _where(ad_admin, unique) is None


def _where(admin: ldap3.Connection, unique: str) -> tuple[str, int] | None:
    admin.search(AD_BASE, f"(employeeID=N{unique})", attributes=["userAccountControl"])
    if not admin.entries:
        return None
    (entry,) = admin.entries
    return str(entry.entry_dn).split(",", 1)[1].lower(), int(entry.userAccountControl.value)


def test_plain_ldap_without_tls_is_refused_clearly(
    make_hook: Any,
    make_ad_settings: Callable[..., ActiveDirectorySettings],
    ctx: Ctx,
    samba: SambaDC,
) -> None:
    plain = make_ad_settings(url=samba.plain_url, set_password=False)
    result = make_hook(ActiveDirectoryPlugin(settings=plain)).idsync_check_connection(ctx=ctx())
    assert not result.success
    assert "strongerAuthRequired (8)" in result.messages[0]
    assert "use an ldaps:// URL or start_tls" in result.messages[0]
    with pytest.raises(ValueError, match="only over an encrypted connection"):
        make_ad_settings(url=samba.plain_url)


def test_the_certificate_must_carry_the_servers_name(
    make_hook: Any, make_ad_settings: Callable[..., ActiveDirectorySettings], ctx: Ctx
) -> None:
    # Samba's certificate is made out to DC1.example.test; the URL says 127.0.0.1.
    unnamed = make_ad_settings(tls_server_name=None)
    result = make_hook(ActiveDirectoryPlugin(settings=unnamed)).idsync_check_connection(ctx=ctx())
    assert not result.success
    assert "doesn't match" in result.messages[0]
    named = make_ad_settings()
    assert (
        make_hook(ActiveDirectoryPlugin(settings=named)).idsync_check_connection(ctx=ctx()).success
    )


def test_a_name_that_needs_escaping_makes_a_valid_dn(
    ad_hook: Any, ctx: Ctx, ad_admin: ldap3.Connection, samba: SambaDC, samba_lock: Any
) -> None:
    unique = _unique()
    odd = f'de Vries, Jan "JdV" + Co #1 <{unique}>; a\\b'
    account = _account(unique, cn=odd)
    created = ad_hook.idsync_create(ctx=ctx(account=account))
    assert created.success, created.messages
    ad_admin.search(EMPLOYEES, f"(employeeID=N{unique})", attributes=["cn", "distinguishedName"])
    (entry,) = ad_admin.entries
    assert entry.cn.value == odd
    renamed = f"{odd} (2)"
    update = ctx(
        reference=created.reference,
        account={**account, "cn": renamed},
        changes={"cn": Change(before=odd, after=renamed)},
    )
    assert ad_hook.idsync_update(ctx=update).success
    ad_admin.search(EMPLOYEES, f"(employeeID=N{unique})", attributes=["cn"])
    assert ad_admin.entries[0].cn.value == renamed
    with samba_lock.exclusive():
        before = samba_writes(samba)
        again = ad_hook.idsync_update(ctx=update)
        assert samba_writes(samba) == before, "a repeated rename wrote again"
    assert again.success, again.messages


def test_the_connection_test_holds_the_mapping_to_the_schema(ad_hook: Any, ctx: Ctx) -> None:
    keys = ["cn", "sAMAccountName", "userPrincipalName", "employeeID", "department", "container"]
    good = ad_hook.idsync_check_connection(
        ctx=ctx(
            account=dict.fromkeys(keys),
            correlation=Correlation(person_field="id", account_field="employeeID", value=None),
        )
    )
    assert good.success, good.messages
    bad = ad_hook.idsync_check_connection(
        ctx=ctx(
            account=dict.fromkeys(["cn", "sAMAcountName", "unicodePwd", "whenChanged", "container"])
        )
    )
    assert not bad.success
    assert bad.messages == [
        "mapping: the directory's schema has no attribute 'sAMAcountName'; "
        "did you mean 'sAMAccountName'?",
        "mapping: 'unicodePwd' may not be set: idsync sets it",
        "mapping: the directory sets 'whenChanged' itself (NO-USER-MODIFICATION); "
        "a mapping cannot write it",
    ]
