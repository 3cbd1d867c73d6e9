"""Support for whole pipelines from the AFAS simulator into real directories (Samba AD,
OpenLDAP), driven through the ``idsync`` CLI.

Each test gets its own organizational units in the shared server (``OU=run-<tag>``), its own
department groups, and drives ``idsync`` through the CLI, as an operator would. The helpers
read the directory behind idsync's back: entries by employee number, their groups, whether
they are enabled, and the change markers (``uSNChanged``; ``modifyTimestamp`` and
``entryCSN``) that prove a re-run wrote nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ldap3
from idsync_afas.simulator import MOUNT as AFAS_MOUNT
from idsync_afas.simulator import AfasSimulator
from ldapservers import (
    AD_ADMIN,
    AD_BASE,
    AD_PASSWORD,
    ADMIN,
    ADMIN_PASSWORD,
    SERVICE,
    SERVICE_PASSWORD,
    SUFFIX,
    SambaDC,
    Slapd,
    bind,
    samba_writes,
    slapd_writes,
)
from support import AFAS_TOKEN, IDSYNC

INITIAL_PASSWORD = "Welkom-2026!eerste-dag"
"""The initial password the pipelines give new accounts (from the environment)."""

__all__ = ["AD_PIPELINE", "INITIAL_PASSWORD", "LDAP_PIPELINE", "DirectoryOrg", "make_org"]

_SOURCE = """
name: e2e-__FLAVOUR__
state: sqlite:///__DB__
sources:
  hr:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}", page_size: 3, backoff: 0.01, max_backoff: 0.05}
    thresholds: {removed: "20%"}
targets:
"""

AD_PIPELINE = (
    _SOURCE
    + """
  ad:
    plugin: ad
    settings:
      url: "${DIRECTORY_URL}"
      bind_dn: "${DIRECTORY_BIND_DN}"
      password: "${DIRECTORY_PASSWORD}"
      ca_file: "${DIRECTORY_CA_FILE}"
      tls_server_name: DC1.example.test
      base_dn: "DC=example,DC=test"
      users_base: "OU=Employees,__BASE__"
      groups_base: "OU=Groups,__BASE__"
      disabled_container: "OU=Disabled,__BASE__"
      create_containers: true
      initial_password: "${DIRECTORY_INITIAL_PASSWORD}"
      must_change_password: false
      backoff: 0.01
    concurrency: 4
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: external_id, account: employeeID}
      unique:
        sAMAccountName:
          - "{{ (person.name.first | slug)[:1] }}{{ (person.name.full_family | slug)[:17] }}{{ suffix }}"
        userPrincipalName:
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.test"
      mapping:
        cn: "{{ person.display_name }} ({{ person.external_id }})"
        givenName: "{{ person.name.first }}"
        sn: "{{ person.name.full_family }}"
        displayName: "{{ person.display_name }}"
        employeeID: "{{ person.external_id }}"
        department: "{{ contract.department.name }}"
        title: "{{ contract.title.name }}"
        container: "OU={{ dn_escape(contract.department.name) }},OU=Employees,__BASE__"
      lifecycle: {create_days_before_start: 14, enable_days_before_start: 3, delete_days_after_disable: 30}
    permissions:
      - {when: "contract.title.code == 'ICT-ADM'", grant: "group:ICT Admins"}
      - {dynamic: "group:dep___TAG___{{ contract.department.code }}"}
    resources: ["group:dep___TAG___{{ department.code }}"]
"""
)

LDAP_PIPELINE = (
    _SOURCE
    + """
  ldap:
    plugin: ldap
    settings:
      url: "${DIRECTORY_URL}"
      start_tls: true
      bind_dn: "${DIRECTORY_BIND_DN}"
      password: "${DIRECTORY_PASSWORD}"
      ca_file: "${DIRECTORY_CA_FILE}"
      tls_server_name: localhost
      base_dn: "dc=example,dc=org"
      users_base: "ou=employees,__BASE__"
      groups_base: "ou=groups,__BASE__"
      disabled_container: "ou=disabled,__BASE__"
      create_containers: true
      set_password: true
      initial_password: "${DIRECTORY_INITIAL_PASSWORD}"
      backoff: 0.01
    concurrency: 4
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: external_id, account: employeeNumber}
      unique:
        uid:
          - "{{ (person.name.first | slug)[:1] }}{{ person.name.full_family | slug }}{{ suffix }}"
      mapping:
        cn: "{{ person.display_name }}"
        givenName: "{{ person.name.first }}"
        sn: "{{ person.name.full_family }}"
        displayName: "{{ person.display_name }}"
        employeeNumber: "{{ person.external_id }}"
        departmentNumber: "{{ contract.department.code }}"
        title: "{{ contract.title.name }}"
        container: "ou={{ dn_escape(contract.department.name) }},ou=employees,__BASE__"
      lifecycle: {create_days_before_start: 14, enable_days_before_start: 3, delete_days_after_disable: 30}
    permissions:
      - {when: "contract.title.code == 'ICT-ADM'", grant: "group:ICT Admins"}
      - {dynamic: "group:dep___TAG___{{ contract.department.code }}"}
    resources: ["group:dep___TAG___{{ department.code }}"]
"""
)


@dataclass
class DirectoryOrg:
    """One pipeline from the AFAS simulator into one directory, and ways to look inside."""

    flavour: str
    """``ad`` or ``ldap`` (the target's name in the pipeline, too)."""
    base: str
    tag: str
    admin: ldap3.Connection
    afas: AfasSimulator
    pipeline: Path
    db: Path
    env: dict[str, str]
    writes_probe: Any
    id_attribute: str
    outputs: list[str] = field(default_factory=list)
    quiet: Callable[[], AbstractContextManager[None]] = nullcontext
    """A block in which no other test writes to the server (Samba is shared by processes)."""

    # --- running idsync --------------------------------------------------------------

    def idsync(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run the ``idsync`` command; ``check`` is the exit code expected (None: any)."""
        done = subprocess.run(
            [str(IDSYNC), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=180,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        if check is not None and done.returncode != check:
            raise AssertionError(
                f"idsync {' '.join(args)} exited {done.returncode}, expected {check}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def run(self, as_of: str, check: int | None = 0) -> dict[str, Any]:
        """``idsync run --as-of`` with ``--json``: the run's summary."""
        result: dict[str, Any] = json.loads(
            self.idsync(
                "run", str(self.pipeline), "--as-of", as_of, "--time-travel", "--json", check=check
            ).stdout
        )
        return result

    # --- looking inside ----------------------------------------------------------------

    def search(self, search_filter: str, attributes: list[str]) -> list[Any]:
        """Entries under this test's base."""
        self.admin.search(self.base, search_filter, attributes=attributes)
        return list(self.admin.entries)

    def accounts(self, person: str) -> list[Any]:
        """The accounts carrying the employee number ``person``."""
        return self.search(
            f"({self.id_attribute}={person})",
            ["*", "memberOf", "userAccountControl", "pwdAccountLockedTime", "manager"],
        )

    def account(self, person: str) -> Any | None:
        """The one account of ``person`` (None when there is none)."""
        found = self.accounts(person)
        assert len(found) <= 1, f"{len(found)} accounts carry {self.id_attribute}={person}"
        return found[0] if found else None

    def container(self, person: str) -> str:
        """The (lower-case) first RDN of the OU holding ``person``'s account."""
        entry = self.account(person)
        assert entry is not None, f"no account for {person}"
        return str(entry.entry_dn).split(",")[1].lower()

    def enabled(self, person: str) -> bool:
        """Whether ``person``'s account may sign in."""
        entry = self.account(person)
        assert entry is not None, f"no account for {person}"
        if self.flavour == "ad":
            return not int(entry.userAccountControl.value) & 2
        return not entry.pwdAccountLockedTime.values

    def groups(self, person: str) -> set[str]:
        """The names of the groups ``person``'s account is a member of."""
        entry = self.account(person)
        assert entry is not None, f"no account for {person}"
        return {
            str(dn).split(",")[0].split("=", 1)[1].replace(f"dep_{self.tag}_", "department_")
            for dn in entry.memberOf.values
        }

    def markers(self) -> dict[str, tuple[str, ...]]:
        """Every entry under the base with what changes when it is written."""
        names = ["uSNChanged"] if self.flavour == "ad" else ["modifyTimestamp", "entryCSN"]
        return {
            str(e.entry_dn): tuple(str(e[n].value) for n in names)
            for e in self.search("(objectClass=*)", names)
        }

    def writes(self) -> int:
        """The server's write counter (Samba's highest USN; slapd's monitor)."""
        return int(self.writes_probe())

    def can_bind(self, login: str, password: str) -> bool:
        """Whether ``login`` can sign in with ``password``."""
        url = self.env["DIRECTORY_URL"]
        connection = bind(url, login, password, tls=url.startswith("ldaps"), auto=False)
        try:
            return bool(connection.bind())
        finally:
            connection.unbind()


def make_org(
    flavour: str,
    server: SambaDC | Slapd,
    tmp_path: Path,
    afas_url: str,
    afas: AfasSimulator,
) -> DirectoryOrg:
    tag = uuid.uuid4().hex[:6]
    if isinstance(server, SambaDC):
        base = f"OU=run-{tag},{AD_BASE}"
        admin = bind(server.url, AD_ADMIN, AD_PASSWORD, tls=True)
        units = [base, f"OU=Employees,{base}", f"OU=Groups,{base}", f"OU=Disabled,{base}"]
        login, password, text = AD_ADMIN, AD_PASSWORD, AD_PIPELINE
        id_attribute, probe = "employeeID", lambda: samba_writes(server)
        url = server.url
    else:
        base = f"ou=run-{tag},ou=people,{SUFFIX}"  # where the service account may write
        admin = bind(server.url, ADMIN, ADMIN_PASSWORD)
        units = [base, f"ou=employees,{base}", f"ou=groups,{base}", f"ou=disabled,{base}"]
        login, password, text = SERVICE, SERVICE_PASSWORD, LDAP_PIPELINE
        id_attribute, probe = "employeeNumber", lambda: slapd_writes(server)
        url = server.url
    for unit in units:
        assert admin.add(unit, ["organizationalUnit"]), admin.result
    groups = units[2]
    if flavour == "ad":
        ict = {"sAMAccountName": f"ictadmins-{tag}", "groupType": str(-2147483646)}
        assert admin.add(f"CN=ICT Admins,{groups}", ["top", "group"], ict), admin.result
    else:
        ict = {"cn": "ICT Admins", "member": ["cn=nobody"]}
        assert admin.add(f"cn=ICT Admins,{groups}", ["groupOfNames"], ict), admin.result
    db = tmp_path / "state.db"
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        text.replace("__FLAVOUR__", flavour)
        .replace("__DB__", str(db))
        .replace("__BASE__", base)
        .replace("__TAG__", tag),
        encoding="utf-8",
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "DIRECTORY_"))},
        "AFAS_BASE_URL": afas_url + AFAS_MOUNT,
        "AFAS_TOKEN": AFAS_TOKEN,
        "DIRECTORY_URL": url,
        "DIRECTORY_BIND_DN": login,
        "DIRECTORY_PASSWORD": password,
        "DIRECTORY_CA_FILE": str(server.ca),
        "DIRECTORY_INITIAL_PASSWORD": INITIAL_PASSWORD,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    return DirectoryOrg(
        flavour=flavour,
        base=base,
        tag=tag,
        admin=admin,
        afas=afas,
        pipeline=pipeline,
        db=db,
        env=env,
        writes_probe=probe,
        id_attribute=id_attribute,
    )
