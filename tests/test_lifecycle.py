"""The lifecycle of a small organisation, run by run, through the CLI and the simulators.

Time is controlled with ``--as-of``: the world's contracts are fixed around January 2026.
"""

from __future__ import annotations

from support import Org, hr_loses

JOINED = "2026-01-20"  # before the joiner's start, before the leaver's end
MOVED = "2026-02-02"  # joiner started, mover moved, leaver left
GONE = "2026-03-05"  # more than 30 days after the leaver was disabled


def test_plan_changes_nothing_and_shows_what_a_run_would_do(org: Org) -> None:
    plan = org.json("plan", str(org.pipeline), "--as-of", JOINED, check=4)  # changes pending
    assert plan["schema_version"] == 1
    assert plan["first_run"] is True
    kinds = {(a["target"], a["person"], a["kind"]) for a in plan["actions"]}
    assert ("helloid", "1002", "create") in kinds
    assert ("helloid", "1006", "create") not in kinds  # external: no account
    assert ("helloid", "1004", "create") in kinds  # joiner within 14 days: created...
    assert ("helloid", "1004", "enable") not in kinds  # ...but not yet enabled
    assert ("helloid", None, "resource") in kinds
    update = next(a for a in plan["actions"] if a["person"] == "1002" and a["kind"] == "create")
    assert update["changes"]["lastName"] == {"before": None, "after": "van der Berg"}
    assert org.helloid_writes() == []
    assert org.afas_writes() == []
    assert not org.db.exists()  # planning never creates the state store
    missing = org.idsync("audit", str(org.pipeline), check=2)
    assert missing.stdout == ""
    assert "there is no state store at" in missing.stderr
    assert not org.db.exists()


def test_first_run_creates_correlates_grants_and_writes_back(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)

    existing = org.user("j.devries@example.org")
    assert existing is not None
    assert existing["lastName"] == "de Vries"
    assert sum(u["userName"] == "j.devries@example.org" for u in org.helloid.users.values()) == 1
    # Namesakes without e-mail get the next free candidate.
    assert org.user("jan.devries@example.org")["userAttributes"]["employeeId"] == "1007"
    assert org.user("jan.devries2@example.org")["userAttributes"]["employeeId"] == "1008"
    assert org.user("eva@consult.example") is None  # externals get nothing
    joiner = org.user("f.elamrani@example.org")
    assert joiner is not None
    assert joiner["isEnabled"] is False
    assert org.user("a.vanderberg@example.org")["isEnabled"] is True

    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
    assert org.groups_of("k.bakker@example.org") == {"department_SALES"}
    for code in ("ORG", "SALES", "ICT", "HR", "EXT"):
        assert org.helloid.has_group(f"department_{code}")  # resources, one per department
    laptop = {
        org.helloid.users[g]["userName"]
        for g in org.helloid.users
        if "Laptop" in org.helloid.products_of(g)
    }
    assert laptop == {
        "j.devries@example.org",
        "a.vanderberg@example.org",
        "p.jansen@example.org",
        "f.elamrani@example.org",
        "k.bakker@example.org",
    }
    anna = org.user("a.vanderberg@example.org")
    assert existing["managedByUserGUID"] == anna["userGUID"]
    # The HelloID user name is written back to AFAS as the UPN.
    employee = org.afas.data.employee("1007")
    assert org.afas.data.user_of(employee["Persoonsnummer"])["UPN"] == "jan.devries@example.org"


def test_a_second_run_without_changes_writes_nothing(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    org.clear_logs()
    result = org.json("run", str(org.pipeline), "--as-of", JOINED)
    assert result["counts"] == {}
    assert org.helloid_writes() == []
    assert org.afas_writes() == []


def test_joiner_mover_leaver_over_time(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    org.idsync("run", str(org.pipeline), "--as-of", MOVED)

    assert org.user("f.elamrani@example.org")["isEnabled"] is True  # joiner enabled
    assert org.groups_of("k.bakker@example.org") == {"department_HR"}  # mover switched
    assert org.user("k.bakker@example.org")["userAttributes"]["department"] == "Hr"
    leaver = org.user("p.jansen@example.org")
    assert leaver["isEnabled"] is False  # leaver disabled...
    assert org.groups_of("p.jansen@example.org") == set()  # ...with nothing left
    assert org.helloid.products_of(leaver["userGUID"]) == []
    untouched = org.user("a.vanderberg@example.org")
    assert untouched["isEnabled"] is True
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}

    org.idsync("run", str(org.pipeline), "--as-of", GONE)
    assert org.user("p.jansen@example.org") is None  # deleted 30 days after disable
    org.clear_logs()
    assert org.json("run", str(org.pipeline), "--as-of", GONE)["counts"] == {}
    assert org.helloid_writes() == []


def test_dry_run_calls_every_hook_but_writes_nothing(org: Org) -> None:
    result = org.json("run", str(org.pipeline), "--as-of", JOINED, "--dry-run")
    assert result["counts"]["dry-run"]["create"] >= 6
    assert org.helloid_writes() == []
    assert org.afas_writes() == []
    assert org.helloid.user_by_name("a.vanderberg@example.org") is None
    audit = org.json("audit", str(org.pipeline))["records"]
    assert audit
    assert {r["status"] for r in audit} == {"dry-run"}
    assert all(r["dry_run"] for r in audit)
    # Nothing was recorded as applied: a real run still has everything to do.
    assert org.json("run", str(org.pipeline), "--as-of", JOINED)["counts"]["done"]["create"] >= 6


def test_a_threshold_holds_its_persons_whole_and_approval_releases_them(org: Org) -> None:
    org.write_pipeline("    thresholds: {disable: 0}")
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    groups = org.groups_of("p.jansen@example.org")
    held = org.json("run", str(org.pipeline), "--as-of", MOVED, check=3)
    assert [(h["kind"], h["persons"]) for h in held["held"]] == [("disable", ["1003", "1009"])]
    assert org.user("p.jansen@example.org")["isEnabled"] is True  # held, with every permission
    assert org.groups_of("p.jansen@example.org") == groups
    assert org.user("f.elamrani@example.org")["isEnabled"] is True  # the others went on
    org.idsync("run", str(org.pipeline), "--as-of", MOVED, "--approve", "disable")
    assert org.user("p.jansen@example.org")["isEnabled"] is False


def test_a_source_that_loses_people_is_held_whole(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    hr_loses(org, "1001", "1002")  # 2 of 9: more than the 20% allowed
    org.clear_logs()
    held = org.json("run", str(org.pipeline), "--as-of", JOINED, check=3)
    assert held["held"][0]["kind"] == "import"
    assert "2 persons missing from the import" in held["held"][0]["reason"]
    assert held["counts"] == {}
    assert org.helloid_writes() == []
    assert org.user("a.vanderberg@example.org")["isEnabled"] is True
    org.idsync("run", str(org.pipeline), "--as-of", JOINED, "--approve", "import")
    # Accepted, and missing: kept as they were until the grace (3 days, 2 imports) is over.
    assert org.user("a.vanderberg@example.org")["isEnabled"] is True
    assert org.json("run", str(org.pipeline), "--as-of", "2026-01-22")["counts"] == {}
    gone = org.json("run", str(org.pipeline), "--as-of", "2026-01-23")
    assert gone["counts"]["done"]["disable"] == 2
    assert org.user("a.vanderberg@example.org")["isEnabled"] is False
    assert org.groups_of("a.vanderberg@example.org") == set()


def test_person_view_and_audit_trail(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    org.idsync("run", str(org.pipeline), "--as-of", MOVED)
    view = org.json("person", str(org.pipeline), "1005", "--as-of", MOVED)
    assert [c["id"] for c in view["contracts"]] == ["1005-1", "1005-2"]
    assert view["accounts"]["helloid"]["permissions"] == ["group:department_HR", "product:Laptop"]
    assert view["accounts"]["helloid"]["enabled"] is True
    audit = org.json("audit", str(org.pipeline), "--person", "1005", "--target", "helloid")[
        "records"
    ]
    kinds = [(r["kind"], r["status"], r["key"]) for r in audit]
    assert ("revoke", "done", "group:department_SALES") in kinds
    assert ("create", "done", None) in kinds
    move = next(r for r in audit if r["kind"] == "update")
    assert move["changes"]["userAttributes.department"] == {"before": "Sales", "after": "Hr"}
    assert org.idsync("person", str(org.pipeline), "9999", check=1).returncode == 1


def test_a_rehire_within_the_delete_window_gets_the_same_account_back(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    first = org.user("s.kok@example.org")
    assert first is not None
    org.idsync("run", str(org.pipeline), "--as-of", MOVED)  # the first contract ended
    assert org.user("s.kok@example.org")["isEnabled"] is False
    assert org.groups_of("s.kok@example.org") == set()
    org.idsync("run", str(org.pipeline), "--as-of", "2026-02-18")  # 2 days before the rehire
    again = org.user("s.kok@example.org")
    assert again["userGUID"] == first["userGUID"]  # the same account, not a new one
    assert again["isEnabled"] is True  # enabled 3 days before the new start
    assert org.groups_of("s.kok@example.org") == {"department_SALES"}
    assert sum(u["userName"] == "s.kok@example.org" for u in org.helloid.users.values()) == 1


def test_audit_and_person_read_the_state_without_the_secrets(org: Org) -> None:
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    for name in ("AFAS_TOKEN", "HELLOID_API_KEY", "HELLOID_API_SECRET", "AFAS_BASE_URL"):
        del org.env[name]
    assert org.json("audit", str(org.pipeline), "--person", "1002")["records"]
    assert org.json("person", str(org.pipeline), "1002")["accounts"]["helloid"]["enabled"] is True
    assert org.idsync("run", str(org.pipeline), check=2).returncode == 2  # a run needs them


def test_time_moves_forward_only(org: Org) -> None:
    p = str(org.pipeline)
    refused = org.idsync("run", p, "--as-of", JOINED, check=2, travel=False)
    assert "--as-of 2026-01-20: a run enforces on today's date" in refused.stderr
    assert "add --time-travel" in refused.stderr
    assert org.helloid_writes() == []
    org.idsync("run", p, "--as-of", JOINED, "--dry-run", travel=False)  # a preview may
    org.idsync("run", p, "--as-of", MOVED)
    back = org.idsync("run", p, "--as-of", JOINED, check=2)  # even with --time-travel
    assert "is before the last enforcing run of e2e (dated 2026-02-02)" in back.stderr
