"""Reconciliation through the CLI against the simulators: unmatched, unlinked, disputed,
drifted and missing accounts, exclusions that expire, and fixes only on request, through
dry-run, thresholds and the audit trail."""

from __future__ import annotations

from typing import Any

from support import Org, edit_pipeline, hand_made_user, state

JOINED = "2026-01-20"


def _reconcile(org: Org, *args: str, check: int = 0) -> dict[str, Any]:
    """``idsync reconcile --json``: exit 0 when all is in order, 4 while findings are left."""
    report = org.json("reconcile", str(org.pipeline), "--as-of", JOINED, *args, check=check)
    assert report["exit_code"] == check
    return report  # type: ignore[no-any-return]


def test_an_existing_account_is_unlinked_until_linked_and_link_never_creates(org: Org) -> None:
    existing = org.user("j.devries@example.org")
    assert existing is not None
    before = _reconcile(org, "--target", "helloid", check=4)  # unlinked: pending
    helloid = before["targets"]["helloid"]
    assert helloid["accounts"] == 1
    assert helloid["linked"] == 0
    assert helloid["unmatched"] == []
    [unlinked] = helloid["unlinked"]
    assert unlinked["reference"] == existing["userGUID"]
    assert unlinked["person"] == "1001"
    assert unlinked["entitled"] is True
    assert unlinked["permissions"] == ["group:department_SALES"]
    assert before["run"] is None  # a report changes nothing and starts no run
    assert not org.db.exists()  # nor makes a state store

    dry = _reconcile(org, "--target", "helloid", "--link", "--dry-run", check=4)
    assert dry["fixes"] == {"dry-run": {"correlate": 1, "update": 1}}
    assert org.helloid_writes() == []

    linked = _reconcile(org, "--target", "helloid", "--link")
    assert linked["fixes"] == {"done": {"correlate": 1, "update": 1}}
    assert sum(1 for u in org.helloid.users.values() if not u["isDeleted"]) == 1  # no create
    assert org.user("j.devries@example.org")["lastName"] == "de Vries"  # updated on link
    audit = org.json("audit", str(org.pipeline), "--run", str(linked["run"]))["records"]
    assert {(r["kind"], r["status"], r["reference"]) for r in audit} >= {
        ("correlate", "done", existing["userGUID"])
    }
    after = _reconcile(org, "--target", "helloid")["targets"]["helloid"]
    assert (after["linked"], after["unlinked"], after["drift"]) == (1, [], [])


def test_drift_and_orphans_are_reported_and_restore_fixes_only_the_drift(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    h = org.helloid
    anna = org.user("a.vanderberg@example.org")
    h.update_user(anna["userGUID"], {**anna, "lastName": "Berg"})
    h.remove_member(anna["userGUID"], "ICT Admins")
    kees = org.user("k.bakker@example.org")
    h.add_member(kees["userGUID"], "department_ICT")  # a group idsync manages
    parking = next(k for k, p in h.products.items() if p["name"] == "Parking permit")
    h.assign(parking, kees["userGUID"])  # a product idsync never grants: not its business
    piet = org.user("p.jansen@example.org")
    h.update_user(piet["userGUID"], {**piet, "isEnabled": False})
    temp = hand_made_user(org, "temp.admin@example.org")
    backup = hand_made_user(org, "svc.backup@example.org")
    gone = hand_made_user(org, "old.intern@example.org")
    h.delete_user(gone["userGUID"])  # soft-deleted: not an orphan to act on
    jan = org.user("jan.devries2@example.org")
    h.delete_user(jan["userGUID"])  # linked, but gone from HelloID

    report = _reconcile(org, "--target", "helloid", check=4)
    found = report["targets"]["helloid"]
    assert {u["label"] for u in found["unmatched"]} == {
        "temp.admin@example.org",
        "svc.backup@example.org",
    }
    drift = {d["person"]: d for d in found["drift"]}
    assert set(drift) == {"1002", "1003", "1005"}
    assert drift["1002"]["attributes"] == {
        "lastName": {"applied": "van der Berg", "actual": "Berg", "desired": "van der Berg"}
    }
    assert drift["1002"]["missing"] == ["group:ICT Admins"]
    assert drift["1003"]["enabled"] == {"applied": True, "actual": False}
    assert drift["1005"]["extra"] == ["group:department_ICT"]  # and not the parking permit
    assert found["missing"] == [
        {"person": "1008", "name": "Jan de Vries", "reference": jan["userGUID"]}
    ]

    excluded = _reconcile(
        org,
        "--target",
        "helloid",
        "--exclude",
        backup["userGUID"],
        "--until",
        "2026-06-30",
        "--reason",
        "backup service",
        check=4,
    )["targets"]["helloid"]
    assert [u["label"] for u in excluded["unmatched"]] == ["temp.admin@example.org"]
    assert excluded["excluded"][0]["until"] == "2026-06-30"
    assert excluded["excluded"][0]["reason"] == "backup service"
    later = org.json(
        "reconcile", str(org.pipeline), "--as-of", "2026-07-01", "--target", "helloid", check=4
    )
    expired = next(u for u in later["targets"]["helloid"]["unmatched"] if u["expired"])
    assert expired["reference"] == backup["userGUID"]

    org.clear_logs()
    dry = _reconcile(org, "--target", "helloid", "--restore", "--dry-run", check=4)
    assert dry["fixes"] == {"dry-run": {"enable": 1, "grant": 1, "revoke": 1, "update": 1}}
    assert org.helloid_writes() == []

    fixed = _reconcile(org, "--target", "helloid", "--restore", check=4)  # orphans are left
    assert fixed["fixes"] == {"done": {"enable": 1, "grant": 1, "revoke": 1, "update": 1}}
    assert org.user("a.vanderberg@example.org")["lastName"] == "van der Berg"
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
    assert org.user("p.jansen@example.org")["isEnabled"] is True
    assert org.groups_of("k.bakker@example.org") == {"department_SALES"}
    assert "Parking permit" in h.products_of(kees["userGUID"])
    assert org.user("temp.admin@example.org")["isEnabled"] is True  # orphans not touched
    assert _reconcile(org, "--target", "helloid", check=4)["targets"]["helloid"]["drift"] == []
    assert temp["userGUID"] != backup["userGUID"]


def test_disabling_orphans_is_held_by_the_threshold_until_approved(org: Org) -> None:
    org.write_pipeline("    thresholds: {disable: 1}")
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    one = hand_made_user(org, "temp.admin@example.org")
    two = hand_made_user(org, "old.intern@example.org")
    off = hand_made_user(org, "already.off@example.org", isEnabled=False)

    held = _reconcile(org, "--target", "helloid", "--disable-orphans", check=3)
    assert held["fixes"] == {"held": {"disable": 2}}  # the disabled one needs nothing
    assert [(h["system"], h["kind"], h["count"]) for h in held["held"]] == [
        ("helloid", "disable", 2)
    ]
    assert org.user("temp.admin@example.org")["isEnabled"] is True
    [item] = org.json("held", str(org.pipeline))["items"]
    assert item["kind"] == "reconcile:disable"
    assert {a["reference"] for a in item["would"]} == {one["userGUID"], two["userGUID"]}

    approved = org.json("approve", str(org.pipeline), str(item["id"]), "--as-of", JOINED)
    assert approved["status"] == "approved"
    assert org.user("temp.admin@example.org")["isEnabled"] is False
    assert org.user("old.intern@example.org")["isEnabled"] is False
    audit = org.json("audit", str(org.pipeline), "--run", str(approved["run"]))["records"]
    assert {(r["person"], r["kind"], r["status"], r["reference"]) for r in audit} == {
        (None, "disable", "done", one["userGUID"]),
        (None, "disable", "done", two["userGUID"]),
        (None, "approve", "approved", None),  # who approved it, beside what it did
    }
    store = state(org)
    try:
        assert store.held_item(item["id"])["decided_run"] == approved["run"]
        assert one["userGUID"] not in {s.reference for s in store.accounts("helloid").values()}
    finally:
        store.close()
    assert off["isEnabled"] is False


def test_disputed_accounts_are_reported_and_never_linked(org: Org) -> None:
    # Correlate on the employee number HelloID keeps in a user attribute.
    edit_pipeline(
        org,
        "correlate: {person: account.userName, account: userName}",
        "correlate: {person: external_id, account: userAttributes.employeeId}",
    )
    first = hand_made_user(org, "piet.jansen@example.org", userAttributes={"employeeId": "1003"})
    second = hand_made_user(org, "pjansen@example.org", userAttributes={"employeeId": "1003"})
    eva = hand_made_user(org, "eva@consult.example", userAttributes={"employeeId": "1006"})

    report = _reconcile(org, "--target", "helloid", "--link", check=4)  # disputed: for a human
    found = report["targets"]["helloid"]
    [disputed] = [d for d in found["disputed"] if d["persons"] == ["1003"]]
    assert disputed["reason"] == "person 1003 correlates to 2 accounts"
    assert set(disputed["reference"].split(", ")) == {first["userGUID"], second["userGUID"]}
    [external] = found["unlinked"]
    assert (external["person"], external["entitled"]) == ("1006", False)
    assert external["reference"] == eva["userGUID"]
    assert "not linked" in found["notes"][0]
    assert report["run"] is None  # nothing to link: no run
    store = state(org)
    try:
        assert store.accounts("helloid") == {}
    finally:
        store.close()
