"""The idsync contract kit run against both plugins and their real servers.

The write probes read the servers themselves: slapd's monitor counts every add, modify, modify
DN and delete it started (failed ones too); Samba's highest committed USN grows with every
change. So "writes nothing" means the directory saw no write, not that the plugin says so.
"""

from __future__ import annotations

from typing import Any

from idsync import Correlation
from idsync.testing import Sample, target_contract
from idsync.testing.spec import Created
from idsync_ldap import ActiveDirectoryPlugin, LdapPlugin
from ldap3.utils.dn import escape_rdn
from ldapservers import (
    AD_ADMIN,
    AD_GROUPS,
    AD_PASSWORD,
    ADMIN,
    ADMIN_PASSWORD,
    EMPLOYEES,
    GROUPS,
    PEOPLE,
    STANDING_GROUPS,
    bind,
    samba_writes,
    slapd_writes,
)


def _ldap_sample(unique: str) -> Sample:
    uid = f"contract-{unique}"
    return Sample(
        account={
            "uid": uid,
            "cn": f"Contract {unique}",
            "sn": "Test",
            "givenName": "Contract",
            "mail": f"{uid}@example.org",
            "employeeNumber": f"E{unique}",
            "container": PEOPLE,
        },
        correlation=Correlation(
            person_field="external_id", account_field="employeeNumber", value=f"E{unique}"
        ),
        changes={"sn": "Changed", "title": "Tester"},
    )


def _ad_sample(unique: str) -> Sample:
    return Sample(
        account={
            "cn": f"Contract {unique}",
            "sAMAccountName": f"c{unique}",
            "userPrincipalName": f"c{unique}@example.test",
            "givenName": "Contract",
            "sn": "Test",
            "employeeID": f"E{unique}",
            "container": EMPLOYEES,
        },
        correlation=Correlation(
            person_field="external_id", account_field="employeeID", value=f"E{unique}"
        ),
        changes={"sn": "Changed", "title": "Tester", "department": "ICT"},
        may_change=("whenChanged", "uSNChanged"),
    )


def _remove_groups(connection: Any, container: str, created: Created) -> None:
    """Delete the groups the checks made as resources (no hook removes a resource)."""
    try:
        for resource in created.resources:
            connection.delete(f"cn={escape_rdn(resource.name)},{container}")
    finally:
        connection.unbind()


TestLdapContract = target_contract(
    plugin=LdapPlugin,
    settings=lambda make_ldap_settings: make_ldap_settings(),
    writes=lambda slapd: slapd_writes(slapd),
    sample=_ldap_sample,
    permissions=[f"group:{name}" for name in STANDING_GROUPS],
    cleanup=lambda created, slapd: _remove_groups(
        bind(slapd.url, ADMIN, ADMIN_PASSWORD), GROUPS, created
    ),
)


TestActiveDirectoryContract = target_contract(
    plugin=ActiveDirectoryPlugin,
    settings=lambda make_ad_settings: make_ad_settings(resource_container=AD_GROUPS),
    writes=lambda samba: samba_writes(samba),
    sample=_ad_sample,
    permissions=[f"group:{name}" for name in STANDING_GROUPS],
    cleanup=lambda created, samba: _remove_groups(
        bind(samba.url, AD_ADMIN, AD_PASSWORD, tls=True), AD_GROUPS, created
    ),
)
