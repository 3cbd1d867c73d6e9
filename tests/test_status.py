"""``idsync status`` through the CLI: the last runs with what they did, failures and held
items, and each connector's health from its connection test."""

from __future__ import annotations

from support import Org

JOINED, MOVED = "2026-01-20", "2026-02-02"


def test_status_shows_the_last_runs_and_the_health_of_each_connector(org: Org) -> None:
    org.write_pipeline("    thresholds: {disable: 0}")
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    assert org.json("status", p)["healthy"] is True
    org.helloid.delete_user(
        org.user("k.bakker@example.org")["userGUID"]
    )  # the mover's update fails
    moved = org.json("run", p, "--as-of", MOVED, check=1)

    view = org.json("status", p, check=1)  # the last run failed
    assert view["pipeline"] == "e2e"
    assert view["running"] is None
    assert view["healthy"] is False
    last, first = view["runs"]
    assert (last["id"], last["command"], last["status"], last["exit_code"]) == (
        moved["run"],
        "run",
        "failed",
        1,
    )
    assert last["failed"] == sum(moved["counts"]["failed"].values()) >= 1
    assert last["done"] == moved["counts"]["done"]
    assert [(h["system"], h["kind"], h["status"]) for h in last["held"]] == [
        ("helloid", "disable", "held")
    ]
    assert last["seconds"] >= 0
    assert first["done"]["create"] >= 6
    assert first["held"] == []
    assert [h["kind"] for h in view["open_held"]] == ["disable"]
    assert {(c["name"], c["role"], c["ok"]) for c in view["connectors"]} == {
        ("hr", "source", True),
        ("helloid", "target", True),
        ("afas", "target", True),
    }

    org.helloid_sim.faults.error_rate = 1.0  # HelloID answers 5xx to everything
    down = org.idsync("status", p, check=1)
    assert "failing" in down.stdout
    assert "last runs" in down.stdout
    assert "held #" in down.stdout
    offline = org.json("status", p, "--no-connect", "--runs", "1", check=1)
    assert offline["connectors"] == []
    assert [r["id"] for r in offline["runs"]] == [moved["run"]]
