"""Kill the runner with SIGKILL in the middle of enforcement, run again: nothing is lost and
nothing is duplicated, and the audit trail agrees with the target."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from idsync.state import Store
from support import Org, run_and_kill

AS_OF = "2026-01-20"


def _run_and_kill(org: Org, after_writes: int) -> bool:
    """A run killed once HelloID has seen ``after_writes`` more writes (or finished first)."""
    return run_and_kill(
        org.pipeline,
        org.env,
        lambda: len(org.helloid_writes()),
        as_of=AS_OF,
        after_writes=after_writes,
        timeout=60,
    )


# Ten kill points, seeded: by the count of HelloID writes seen (a full first run makes 25:
# a create makes an account enabled in one request).
KILL_POINTS = sorted(random.Random(20260120).sample(range(1, 24), 10))


@pytest.mark.parametrize("after_writes", KILL_POINTS)
def test_a_killed_run_converges_without_duplicates_or_losses(org: Org, after_writes: int) -> None:
    org.helloid_sim.faults.latency = 0.01  # a target slow enough to be caught mid-run
    assert _run_and_kill(org, after_writes), "the run finished before it could be killed"
    _run_and_kill(org, 3)  # killed again early in the re-run, if it gets that far

    org.helloid_sim.faults.latency = 0.0
    org.idsync("run", str(org.pipeline), "--as-of", AS_OF)
    org.clear_logs()
    assert org.json("run", str(org.pipeline), "--as-of", AS_OF)["counts"] == {}
    assert org.helloid_writes() == []

    users = [u for u in org.helloid.users.values() if not u.get("isDeleted")]
    per_person = Counter(u.get("userAttributes", {}).get("employeeId") for u in users)
    expected = {"1001", "1002", "1003", "1004", "1005", "1007", "1008", "1009"}
    assert {p for p in per_person if p} == expected
    assert all(per_person[p] == 1 for p in expected), per_person  # no duplicate account
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
    assert org.groups_of("k.bakker@example.org") == {"department_SALES"}
    assert org.groups_of("jan.devries@example.org") == {"department_HR"}
    names = Counter(g["name"] for g in org.helloid.groups.values())
    assert all(n == 1 for n in names.values()), names  # no duplicate department group

    # The state store and the audit trail agree with HelloID.
    store = Store(f"sqlite:///{org.db}")
    try:
        shadows = store.accounts("helloid")
        audit = store.audit(target="helloid", limit=10_000)
    finally:
        store.close()
    assert set(shadows) == expected
    for pid, shadow in shadows.items():
        assert shadow.reference is not None
        user = org.helloid.users[shadow.reference]
        assert user["userAttributes"]["employeeId"] == pid
        granted = {f"group:{g}" for g in org.helloid.memberships(user["userGUID"])}
        granted |= {f"product:{p}" for p in org.helloid.products_of(user["userGUID"])}
        assert set(shadow.permissions) == granted
        linked = [
            r
            for r in audit
            if r["person"] == pid and r["status"] == "done" and r["kind"] in ("create", "correlate")
        ]
        assert linked[0]["reference"] == shadow.reference  # the newest link is the account
