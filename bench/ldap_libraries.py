"""The same LDAP workload through ldap3, python-ldap and bonsai: why the plugin uses ldap3.

Against the test slapd of ``tests/ldapservers.py`` (127.0.0.1, its own process), each library
binds once and then, for N entries: adds an ``inetOrgPerson``, finds it by ``employeeNumber``,
replaces its ``title``, adds it to a ``groupOfNames``; then reads them all back in one paged
search. Wall and CPU seconds are the client's (CPU: what the library itself costs).

python-ldap and bonsai are not dependencies of idsync (both are C extensions with no Linux
wheels: they need a compiler and the OpenLDAP headers); install them in the venv to compare::

    .venv/bin/pip install python-ldap bonsai       # needs gcc, libldap-dev, libsasl2-dev
    .venv/bin/python bench/ldap_libraries.py 1000  # libraries that are missing are skipped
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import ldapservers  # noqa: E402

PEOPLE = f"ou=people,{ldapservers.SUFFIX}"
GROUPS = f"ou=groups,{ldapservers.SUFFIX}"
BIND, PASSWORD = ldapservers.ADMIN, ldapservers.ADMIN_PASSWORD


def _attributes(tag: str, i: int) -> dict[str, str]:
    return {
        "cn": f"u{tag}{i}",
        "sn": "Test",
        "givenName": "Given",
        "mail": f"u{tag}{i}@example.org",
        "employeeNumber": f"{tag}{i}",
        "title": "A",
    }


def with_ldap3(url: str, n: int, tag: str) -> int:
    import ldap3

    c = ldap3.Connection(ldap3.Server(url), BIND, PASSWORD, auto_bind=True)
    group = f"cn=g{tag},{GROUPS}"
    c.add(group, ["groupOfNames"], {"cn": f"g{tag}", "member": [BIND]})
    dns = [f"cn=u{tag}{i},{PEOPLE}" for i in range(n)]
    for i, dn in enumerate(dns):
        c.add(dn, ["inetOrgPerson"], _attributes(tag, i))
    for i in range(n):
        c.search(PEOPLE, f"(employeeNumber={tag}{i})", attributes=["entryUUID", "cn", "mail"])
    for dn in dns:
        c.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["B"])]})
        c.modify(group, {"member": [(ldap3.MODIFY_ADD, [dn])]})
    found = c.extend.standard.paged_search(
        PEOPLE, f"(employeeNumber={tag}*)", attributes=["*", "entryUUID"], paged_size=500
    )
    return sum(1 for _ in found)


def with_python_ldap(url: str, n: int, tag: str) -> int:
    import ldap
    from ldap.controls import SimplePagedResultsControl

    c = ldap.initialize(url)
    c.simple_bind_s(BIND, PASSWORD)
    group = f"cn=g{tag},{GROUPS}"
    c.add_s(
        group,
        [
            ("objectClass", [b"groupOfNames"]),
            ("cn", [f"g{tag}".encode()]),
            ("member", [BIND.encode()]),
        ],
    )
    dns = [f"cn=u{tag}{i},{PEOPLE}" for i in range(n)]
    for i, dn in enumerate(dns):
        entry = [(k, [v.encode()]) for k, v in _attributes(tag, i).items()]
        c.add_s(dn, [("objectClass", [b"inetOrgPerson"]), *entry])
    for i in range(n):
        c.search_s(
            PEOPLE, ldap.SCOPE_SUBTREE, f"(employeeNumber={tag}{i})", ["entryUUID", "cn", "mail"]
        )
    for dn in dns:
        c.modify_s(dn, [(ldap.MOD_REPLACE, "title", [b"B"])])
        c.modify_s(group, [(ldap.MOD_ADD, "member", [dn.encode()])])
    count, control = 0, SimplePagedResultsControl(True, size=500, cookie=b"")
    while True:
        msgid = c.search_ext(
            PEOPLE,
            ldap.SCOPE_SUBTREE,
            f"(employeeNumber={tag}*)",
            ["*", "entryUUID"],
            serverctrls=[control],
        )
        _, data, _, controls = c.result3(msgid)
        count += len(data)
        pages = [x for x in controls if x.controlType == SimplePagedResultsControl.controlType]
        if not pages or not pages[0].cookie:
            return count
        control.cookie = pages[0].cookie


def with_bonsai(url: str, n: int, tag: str) -> int:
    import bonsai

    client = bonsai.LDAPClient(url)
    client.set_credentials("SIMPLE", user=BIND, password=PASSWORD)
    c = client.connect()
    group = bonsai.LDAPEntry(f"cn=g{tag},{GROUPS}")
    group["objectClass"], group["cn"], group["member"] = ["groupOfNames"], f"g{tag}", [BIND]
    c.add(group)
    dns = [f"cn=u{tag}{i},{PEOPLE}" for i in range(n)]
    for i, dn in enumerate(dns):
        entry = bonsai.LDAPEntry(dn)
        entry["objectClass"] = ["inetOrgPerson"]
        for key, value in _attributes(tag, i).items():
            entry[key] = value
        c.add(entry)
    found = []
    for i in range(n):
        found += c.search(
            PEOPLE,
            bonsai.LDAPSearchScope.SUBTREE,
            f"(employeeNumber={tag}{i})",
            ["entryUUID", "cn", "mail"],
        )
    for entry, dn in zip(found, dns, strict=True):
        entry["title"] = "B"
        entry.modify()
        change = bonsai.LDAPEntry(group.dn, c)
        change.change_attribute("member", bonsai.LDAPModOp.ADD, dn)
        change.modify()
    count = 0
    page = c.paged_search(
        PEOPLE,
        bonsai.LDAPSearchScope.SUBTREE,
        f"(employeeNumber={tag}*)",
        ["*", "entryUUID"],
        page_size=500,
    )
    while True:
        count += len(page)
        msgid = page.acquire_next_page()
        if not msgid:
            return count
        page = c.get_result(msgid)


LIBRARIES: dict[str, tuple[str, Callable[[str, int, str], int]]] = {
    "ldap3": ("ldap3", with_ldap3),
    "python-ldap": ("ldap", with_python_ldap),
    "bonsai": ("bonsai", with_bonsai),
}


def measure(name: str, url: str, n: int) -> None:
    """One library in this process: print its wall and CPU seconds."""
    _, work = LIBRARIES[name]
    wall, cpu = time.perf_counter(), time.process_time()
    found = work(url, n, uuid.uuid4().hex[:6])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    operations = 4 * n + 1
    print(
        f"{name:12} {n} entries ({found} read back): {wall:5.2f} s wall, {cpu:5.2f} s CPU,"
        f" {operations / wall:6.0f} operations/s, {cpu / operations * 1000:.2f} ms CPU/operation",
        flush=True,
    )


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1000
    if len(sys.argv) > 3 and sys.argv[2] == "--one":  # a child: one library, one process
        measure(sys.argv[3], sys.argv[4], n)
        return 0
    server = ldapservers.Slapd().start()
    try:
        for name, (module, _) in LIBRARIES.items():
            if importlib.util.find_spec(module) is None:
                print(f"{name:12} not installed: skipped", flush=True)
                continue
            for _ in range(2):  # twice each: the machine is shared
                subprocess.run(
                    [sys.executable, __file__, str(n), "--one", name, server.url], check=True
                )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
