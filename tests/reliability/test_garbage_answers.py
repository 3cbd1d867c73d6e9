"""A target that answers garbage for some calls (an HTML error page, JSON cut short, values of
the wrong type) fails only those actions, each with a message that says what came back; every
other action is done, and the next clean run converges without a duplicate."""

from __future__ import annotations

from collections import Counter

from reliability.harness import Reply, Rewrite, on_state
from support import Org

AS_OF = "2026-01-20"
HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>upstream sent an invalid response</p></body></html>"
)


def test_garbage_answers_fail_only_their_actions_with_clear_messages(
    org: Org, state_url: str
) -> None:
    moved = on_state(org, state_url)
    existing = org.helloid.user_by_name("j.devries@example.org")
    assert existing is not None
    garbage = Rewrite(
        org.helloid_sim.app,
        {
            # 1003's correlation lookup gets a proxy's HTML error page.
            ("GET", "/api/v1/users/p.jansen@example.org"): Reply(200, "text/html", HTML),
            # 1004's account is created, but the answer is cut short.
            ("POST", "userName=f.elamrani@example.org"): Reply(
                200, "application/json", b'{"userGUID": "4c1b9e5e-0000-4000-8000-0000000000'
            ),
            # 1001's update is answered with a JSON string instead of the user.
            ("PUT", f"/api/v1/users/{existing['userGUID']}"): Reply(
                200, "application/json", b'"OK"'
            ),
            # The ICT Admins group comes back with values of the wrong types.
            ("GET", "/api/v1/groups/ICT Admins"): Reply(
                200,
                "application/json",
                b'{"groupGuid": ["not", "a", "guid"], "name": 42, "users": "everyone"}',
            ),
        },
    )
    org.helloid_sim.app = garbage

    result = moved.json("run", str(moved.pipeline), "--as-of", AS_OF, check=1)
    assert set(garbage.used) == set(garbage.replies), garbage.used
    store = moved.store()
    try:
        audit = store.audit(target="helloid", limit=10_000)
    finally:
        store.close()
    failed = {
        (r["person"], r["kind"]): " ".join(r["messages"]) for r in audit if r["status"] == "failed"
    }
    assert set(failed) == {
        ("1004", "create"),
        ("1001", "update"),
        ("1002", "grant"),
    }, failed
    # 1003's lookup is the plan's: the person is blocked there, with what came back.
    [lookup] = [b for b in result["blocked"] if b["person"] == "1003"]
    assert lookup["field"] == "targets.helloid.account.correlate"
    assert "HTML" in lookup["problem"]
    assert "GET /users/p.jansen%40example.org" in lookup["problem"]
    assert "not JSON" in failed[("1004", "create")]
    assert "POST /users" in failed[("1004", "create")]
    assert "PUT /users/" in failed[("1001", "update")]
    assert "expected" in failed[("1001", "update")]
    assert "/groups/ICT" in failed[("1002", "grant")]
    assert "expected" in failed[("1002", "grant")]
    for message in failed.values():
        assert "Traceback" not in message
        assert len(message) < 600
    # The same person's later actions wait for the next run; nobody else's do.
    skipped = {r["person"] for r in audit if r["status"] == "skipped"}
    assert {"1004"} <= skipped <= {"1001", "1002", "1004"}
    assert not [r for r in audit if r["person"] == "1003"]  # blocked in the plan: no action
    for record in audit:
        if record["status"] == "skipped":
            assert record["messages"][0] in (
                "create failed",
                "update failed",
                "grant failed",
            ), record
    done = {r["person"] for r in audit if r["status"] == "done" and r["kind"] == "create"}
    assert {"1005", "1007", "1008"} <= done  # everyone else went on
    assert result["counts"]["failed"] == Counter(kind for _, kind in failed)

    # Clean answers again: the next run finishes the work without a duplicate.
    org.helloid_sim.app = garbage.app
    assert moved.json("run", str(moved.pipeline), "--as-of", AS_OF)["exit_code"] == 0
    assert moved.json("run", str(moved.pipeline), "--as-of", AS_OF)["counts"] == {}
    users = [u for u in org.helloid.users.values() if not u["isDeleted"]]
    names = Counter(u["userName"] for u in users)
    assert all(n == 1 for n in names.values()), names
    assert names["f.elamrani@example.org"] == 1  # created under garbage, linked after
    assert org.groups_of("a.vanderberg@example.org") == {"ICT Admins", "department_ICT"}
