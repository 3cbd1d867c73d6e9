"""Joiners into a real OpenLDAP: requests per joiner and throughput of the ``ldap`` plugin.

Every person is a joiner (contracts start in a week), so a run plans for each one a create
(correlate first on ``employeeNumber``, then the unique ``uid`` checked, then the add and the
read of its ``entryUUID``) and three group grants (``groupOfNames`` with a placeholder member),
and no enable. The slapd of ``tests/ldapservers.py`` runs on 127.0.0.1 (its own process, its
own core time); the engine binds as the service account over plain LDAP, as over a trusted
link. A run is a real ``Engine.run``: import, plan, and the enforcer's workers, each action
recorded in the state store as it finishes.

Requests are counted by slapd itself (``cn=Monitor``: every bind, search, add, modify and
extended operation it completed), so they are what the server saw, not what the plugin says.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Clock, child, emit, log_to
from _pipeline import load, today
from idsync.engine import Engine
from idsync.model import ActionStatus

sys.path.insert(0, str(ROOT / "tests"))  # the test servers: one way to run slapd for all

import ldapservers

__all__ = ["run"]

GROUPS = ("Staff", "Noorderlicht", "Intranet")
COUNTED = ("Bind", "Search", "Add", "Modify", "Modrdn", "Delete", "Extended", "Compare")

_PIPELINE = """
name: bench-joiners-ldap
state: sqlite:///{db}
sources:
  hr:
    plugin: bench-memory
    settings: {{size: {persons}, starts_in: 7}}
targets:
  ldap:
    plugin: ldap
    settings:
      url: "${{LDAP_URL}}"
      bind_dn: "${{LDAP_BIND_DN}}"
      password: "${{LDAP_PASSWORD}}"
      base_dn: "{suffix}"
      users_base: "ou=people,{suffix}"
      groups_base: "ou=groups,{suffix}"
      connections: {concurrency}
      page_size: 500
    concurrency: {concurrency}
    account:
      correlate: {{person: external_id, account: employeeNumber}}
      unique:
        uid:
          - "{{{{ (person.name.first | slug)[:1] }}}}{{{{ person.name.full_family | slug }}}}{{{{ suffix }}}}"
      mapping:
        cn: "{{{{ person.display_name }}}}"
        givenName: "{{{{ person.name.first }}}}"
        sn: "{{{{ person.name.full_family }}}}"
        mail: "{{{{ person.contact.email }}}}"
        employeeNumber: "{{{{ person.external_id }}}}"
        departmentNumber: "{{{{ contract.department.code }}}}"
        container: "ou=people,{suffix}"
      manager: false
      lifecycle: {{create_days_before_start: 14, enable_days_before_start: 0}}
    permissions:
{grants}
"""


def _operations(url: str) -> dict[str, int]:
    """slapd's completed operations by kind (the probe's own bind and search included)."""
    admin = ldapservers.bind(url, ldapservers.ADMIN, ldapservers.ADMIN_PASSWORD)
    try:
        admin.search(
            "cn=Operations,cn=Monitor", "(objectClass=*)", attributes=["monitorOpCompleted"]
        )
        counts = {}
        for entry in admin.entries:
            kind = str(entry.entry_dn).split(",")[0].split("=", 1)[1]
            if kind in COUNTED:
                counts[kind] = int(entry.monitorOpCompleted.value)
        return counts
    finally:
        admin.unbind()


def _measure(db: Path, url: str, persons: int, concurrency: int) -> dict[str, Any]:
    grants = "\n".join(f'      - {{grant: "group:{name}"}}' for name in GROUPS)
    text = _PIPELINE.format(
        db=db, persons=persons, concurrency=concurrency, grants=grants, suffix=ldapservers.SUFFIX
    )
    env = {
        "LDAP_URL": url,
        "LDAP_BIND_DN": ldapservers.SERVICE,
        "LDAP_PASSWORD": ldapservers.SERVICE_PASSWORD,
    }
    pipeline, registry = load(db.parent, text, env)
    engine = Engine(pipeline, registry)
    clock = Clock()
    started = time.perf_counter()
    with clock.step("run"):
        report = engine.run(as_of=today(), time_travel=True)
    seconds = time.perf_counter() - started
    engine.close()
    counts = report.nested_counts()
    done = counts.get(ActionStatus.DONE.value, {})
    return {
        "exit_code": report.exit_code,
        "done": done,
        "failed": counts.get(ActionStatus.FAILED.value, {}),
        "seconds": seconds,
        "cpu": clock.cpu,
    }


def _case(server: ldapservers.Slapd, work: Path, persons: int, concurrency: int) -> dict[str, Any]:
    db = work / f"joiners-ldap-c{concurrency}" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    before = _operations(server.url)
    args = ["--url", server.url, "--db", str(db), "--persons", str(persons)]
    result = child("joiners_ldap", ["--measure", *args, "--concurrency", str(concurrency)])
    after = _operations(server.url)
    requests = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in COUNTED}
    requests["Bind"] -= 1  # the second probe's own bind
    requests["Search"] -= 1  # the first probe's own search, completed after it counted
    creates = result["done"].get("create", 0)
    total = sum(requests.values())
    result.update(
        persons=persons,
        concurrency=concurrency,
        requests=requests,
        requests_per_joiner=total / max(1, creates),
        joiners_per_s=creates / result["seconds"],
        cpu_ms_per_joiner=1000 * result["cpu"]["run"] / max(1, creates),
        requests_per_s=total / result["seconds"],
    )
    print(
        f"  joiners into slapd c={concurrency:<2} {creates:>5} joiners in {result['seconds']:5.1f} s:"
        f" {result['joiners_per_s']:6.1f} joiners/s, {result['requests_per_joiner']:.2f} req/joiner,"
        f" {result['cpu_ms_per_joiner']:.1f} ms engine CPU/joiner"
        f" ({', '.join(f'{k} {v}' for k, v in requests.items() if v)})",
        flush=True,
    )
    return result


CASES = ((200, 1), (1000, 8))
"""(persons, concurrency): one worker, and the engine's default eight."""


def run(work: Path, scale: float = 1.0) -> list[dict[str, Any]]:
    """Every case, each against a fresh slapd with the three groups."""
    results = []
    for persons, concurrency in CASES:
        server = ldapservers.Slapd().start()
        try:
            admin = ldapservers.bind(server.url, ldapservers.ADMIN, ldapservers.ADMIN_PASSWORD)
            for name in GROUPS:
                admin.add(
                    f"cn={name},ou=groups,{ldapservers.SUFFIX}",
                    ["groupOfNames"],
                    {"cn": name, "member": ["cn=nobody"]},
                )
            admin.unbind()
            results.append(_case(server, work, max(10, int(persons * scale)), concurrency))
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--persons", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if not args.measure:
        # On its own: the whole benchmark, printed (bench/run.py writes it to RESULTS.md).
        import tempfile

        with tempfile.TemporaryDirectory(prefix="idsync-bench-") as tmp:
            run(Path(tmp))
        return
    emit(_measure(args.db, args.url, args.persons, args.concurrency))


if __name__ == "__main__":
    main()
