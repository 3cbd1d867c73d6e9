"""Approvals of held work through the CLI: held imports and action kinds are listed with what
would happen, approved later without a manual re-run (never for more than was reviewed), or
rejected."""

from __future__ import annotations

import getpass
from typing import Any

from support import Org, edit_pipeline, hr_loses

JOINED, MOVED = "2026-01-20", "2026-02-02"


NO_GRACE = '    missing: {days: 0, imports: 1}\n    thresholds: {removed: "20%"}\n'
"""A source whose missing persons are gone at once (the approvals here are about the import)."""


def _held(org: Org, *args: str) -> list[dict[str, Any]]:
    return org.json("held", str(org.pipeline), *args)["items"]  # type: ignore[no-any-return]


def test_a_held_kind_is_listed_rejected_held_again_and_approved_for_what_was_reviewed(
    org: Org,
) -> None:
    org.write_pipeline("    thresholds: {disable: 0}")
    edit_pipeline(org, '    thresholds: {removed: "20%"}\n', NO_GRACE)
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    org.idsync("run", p, "--as-of", MOVED, check=3)
    [first] = _held(org)
    assert (first["system"], first["kind"], first["count"]) == ("helloid", "disable", 2)
    assert first["approve"] == f"idsync approve {p} {first['id']}"
    would = {a["person"]: a for a in first["would"]}
    assert set(would) == {"1003", "1009"}
    assert would["1003"]["name"] == "Piet Jansen"
    assert would["1003"]["reason"].startswith("last contract ended 2026-01-31")

    rejected = org.json("reject", p, str(first["id"]))
    assert rejected["status"] == "rejected"
    assert "plans and holds them again" in rejected["message"]
    assert _held(org) == []
    assert org.user("p.jansen@example.org")["isEnabled"] is True

    org.idsync("run", p, "--as-of", MOVED, check=3)  # planned and held again
    [second] = _held(org)
    assert second["id"] != first["id"]

    hr_loses(org, "1002")  # now Anna would be disabled too: more than was reviewed
    refused = org.idsync("approve", p, str(second["id"]), "--as-of", MOVED, check=3)
    assert "3 disable in helloid now, 2 when held" in refused.stderr
    assert [h["id"] for h in _held(org)] == [second["id"]]
    assert org.user("p.jansen@example.org")["isEnabled"] is True

    org.idsync("run", p, "--as-of", MOVED, check=3)
    [third] = _held(org)
    stale = org.idsync("approve", p, str(second["id"]), check=2)
    assert f"is superseded, not held; the current one is {third['id']}" in stale.stderr

    approved = org.json("approve", p, str(third["id"]), "--as-of", MOVED)
    assert approved["status"] == "approved"
    assert approved["exit_code"] == 0
    for name in ("p.jansen@example.org", "a.vanderberg@example.org", "s.kok@example.org"):
        assert org.user(name)["isEnabled"] is False
    statuses = {h["id"]: (h["status"], h["decided_run"]) for h in _held(org, "--all")}
    assert statuses == {
        third["id"]: ("approved", approved["run"]),
        second["id"]: ("superseded", None),
        first["id"]: ("rejected", None),
    }
    # On the command line, the decider is the operating-system user, in the audit trail too.
    me = getpass.getuser()
    deciders = {h["id"]: h["decided_by"] for h in _held(org, "--all")}
    assert deciders == {third["id"]: me, second["id"]: None, first["id"]: me}
    trail = org.json("audit", p, "--person", "1003")["records"]
    decisions = [(r["kind"], r["status"], r["actor"]) for r in trail if r["actor"]]
    assert decisions == [("approve", "approved", me), ("reject", "rejected", me)]


def test_a_held_import_is_approved_later_unless_it_grew(org: Org) -> None:
    edit_pipeline(org, '    thresholds: {removed: "20%"}\n', NO_GRACE)
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    hr_loses(org, "1001", "1002")  # 2 of 9: more than the 20% the source allows
    org.idsync("run", p, "--as-of", JOINED, check=3)
    [item] = _held(org)
    assert (item["system"], item["kind"]) == ("hr", "import")
    assert item["would"]["removed"] == 2
    assert item["would"]["accept"] == "the new snapshot of hr"
    assert "approving accepts the new snapshot of hr" in org.idsync("held", p).stdout

    hr_loses(org, "1003")
    grew = org.idsync("approve", p, str(item["id"]), "--as-of", JOINED, check=3)
    assert "3 removed now, 2 when held" in grew.stderr
    assert org.user("a.vanderberg@example.org")["isEnabled"] is True  # nothing ran

    org.idsync("run", p, "--as-of", JOINED, check=3)
    [again] = _held(org)
    assert again["would"]["removed"] == 3
    approved = org.json("approve", p, str(again["id"]), "--as-of", JOINED)
    assert approved["exit_code"] == 0
    for name in ("a.vanderberg@example.org", "p.jansen@example.org", "j.devries@example.org"):
        assert org.user(name)["isEnabled"] is False
    assert _held(org) == []


def test_imports_held_in_two_sources_are_approved_together(org: Org) -> None:
    # A second source reading the same HR: both lose the same people.
    edit_pipeline(org, '    thresholds: {removed: "20%"}\n', NO_GRACE)
    edit_pipeline(
        org,
        "targets:\n",
        "  hr2:\n"
        "    plugin: afas\n"
        '    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}"}\n'
        f"{NO_GRACE}"
        "targets:\n",
    )
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    hr_loses(org, "1001", "1002")
    org.idsync("run", p, "--as-of", JOINED, check=3)
    items = {h["system"]: h["id"] for h in _held(org)}
    assert set(items) == {"hr", "hr2"}

    alone = org.idsync("approve", p, str(items["hr"]), "--as-of", JOINED, check=3)
    assert "the import of hr2 is held too" in alone.stderr
    assert f"idsync approve {p} {items['hr']} {items['hr2']}" in alone.stderr

    both = org.json("approve", p, str(items["hr"]), str(items["hr2"]), "--as-of", JOINED)
    assert both["held"] == [items["hr"], items["hr2"]]
    assert org.user("a.vanderberg@example.org")["isEnabled"] is False
    assert _held(org) == []
