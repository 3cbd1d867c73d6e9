"""Fixtures: a real OpenLDAP slapd and a real Samba AD domain controller on 127.0.0.1.

slapd starts once per test process on free ports. Samba AD needs the fixed ports 389 and 636,
so one Samba serves every test process of a run (see ``SambaDC``). A server that cannot be
installed or started fails its tests with the reason: they are never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ldap3
import pluggy
import pytest
from idsync import HookContext, hookspecs
from idsync_ldap import ActiveDirectoryPlugin, ActiveDirectorySettings, LdapPlugin, LdapSettings
from ldapservers import (
    AD_ADMIN,
    AD_BASE,
    AD_GROUPS,
    AD_HOST,
    AD_PASSWORD,
    ADMIN,
    ADMIN_PASSWORD,
    EMPLOYEES,
    GROUPS,
    PEOPLE,
    SERVICE,
    SERVICE_PASSWORD,
    SUFFIX,
    SambaDC,
    Slapd,
    bind,
    shared,
)

# --- servers -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """OpenLDAP for this test process, with the standing groups."""
    with shared("slapd") as server:
        yield server


@pytest.fixture(scope="session")
def samba() -> Iterator[SambaDC]:
    """The Samba AD domain of this test run, with its OUs and standing groups."""
    with shared("samba") as server:
        yield server


@pytest.fixture
def ldap_admin(slapd: Slapd) -> Iterator[ldap3.Connection]:
    """A connection as slapd's root DN (to look behind idsync's back)."""
    connection = bind(slapd.url, ADMIN, ADMIN_PASSWORD)
    yield connection
    connection.unbind()


@pytest.fixture
def ad_admin(samba: SambaDC) -> Iterator[ldap3.Connection]:
    """A connection as the domain's Administrator."""
    connection = bind(samba.url, AD_ADMIN, AD_PASSWORD, tls=True)
    yield connection
    connection.unbind()


# --- settings and the plugin as the engine builds it ---------------------------------------


@pytest.fixture
def make_ldap_settings(slapd: Slapd) -> Callable[..., LdapSettings]:
    """Settings for slapd (StartTLS, the certificate checked), quick retries; keywords override."""

    def make(**overrides: Any) -> LdapSettings:
        values: dict[str, Any] = {
            "url": slapd.url,
            "start_tls": True,
            "ca_file": str(slapd.ca),
            "tls_server_name": "localhost",
            "bind_dn": SERVICE,
            "password": SERVICE_PASSWORD,
            "base_dn": SUFFIX,
            "users_base": PEOPLE,
            "groups_base": GROUPS,
            "page_size": 10,
            "timeout": 10,
            "retries": 2,
            "backoff": 0.01,
        }
        values.update(overrides)
        return LdapSettings.model_validate(values)

    return make


@pytest.fixture
def make_ad_settings(samba: SambaDC) -> Callable[..., ActiveDirectorySettings]:
    """Settings for Samba AD over LDAPS (its certificate checked); keywords override."""

    def make(**overrides: Any) -> ActiveDirectorySettings:
        values: dict[str, Any] = {
            "url": samba.url,
            "ca_file": str(samba.ca),
            "tls_server_name": AD_HOST,
            "bind_dn": AD_ADMIN,
            "password": AD_PASSWORD,
            "base_dn": AD_BASE,
            "users_base": EMPLOYEES,
            "groups_base": AD_GROUPS,
            "page_size": 10,
            "timeout": 10,
            "retries": 2,
            "backoff": 0.01,
        }
        values.update(overrides)
        return ActiveDirectorySettings.model_validate(values)

    return make


@pytest.fixture
def make_hook() -> Iterator[Callable[[Any], Any]]:
    """A pluggy hook relay holding one configured plugin, as the engine builds it per target."""
    plugins: list[Any] = []

    def make(plugin: Any) -> Any:
        plugins.append(plugin)
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        manager.register(plugin)
        manager.check_pending()
        return manager.hook

    yield make
    for plugin in plugins:
        plugin.close()


@pytest.fixture
def ldap_hook(
    make_hook: Callable[[Any], Any], make_ldap_settings: Callable[..., LdapSettings]
) -> Any:
    """The ``ldap`` plugin against slapd."""
    return make_hook(LdapPlugin(settings=make_ldap_settings()))


@pytest.fixture
def ad_hook(
    make_hook: Callable[[Any], Any], make_ad_settings: Callable[..., ActiveDirectorySettings]
) -> Any:
    """The ``ad`` plugin against Samba AD."""
    return make_hook(ActiveDirectoryPlugin(settings=make_ad_settings()))


@pytest.fixture
def ctx() -> Callable[..., HookContext]:
    """Make a hook context from keywords."""
    return lambda **values: HookContext(system=values.pop("system", "directory"), **values)
