"""Fail fast: a target that refuses the credentials or cannot be reached is stopped early.

With a wrong secret every action of a run would fail the same way (thousands of requests,
thousands of warning lines); with the target down, every action would wait out its retry
budget in turn. Here the target is stopped after a handful of requests, or within the retry
budget of one action, with one clear message and a figure in the run's summary, and the other
target of the pipeline goes on. The watch starts with the plan's reads of the target.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from support import Org, state

JOINED = "2026-01-20"
CONCURRENCY = 4  # the helloid target's, in tests/support.py
RETRIES = 5  # the HelloID plugin's default


def _afas_went_on(org: Org, run: int) -> None:
    store = state(org)
    try:
        records = store.audit(run_id=run, target="afas", limit=1000)
    finally:
        store.close()
    assert any(r["status"] == "done" for r in records), "the other target did nothing"


def test_a_target_that_refuses_the_credentials_stops_within_a_handful_of_requests(
    org: Org,
) -> None:
    org.env["HELLOID_API_SECRET"] = "not-the-secret-0123456789abcdef"
    result = org.idsync("run", str(org.pipeline), "--as-of", JOINED, "--json", check=1)
    report = json.loads(result.stdout)
    requests = org.helloid_sim.log.all()
    assert all(r.status == 401 for r in requests)
    assert 3 <= len(requests) <= CONCURRENCY + 3, len(requests)  # a handful, not one per action

    [stopped] = report["stopped_targets"]
    assert stopped["target"] == "helloid"
    assert stopped["reason"] == "credentials refused"
    assert stopped["detail"] == "HTTP 401"
    assert stopped["failures"] == 3
    skipped = sum(report["counts"]["skipped"].values())
    assert skipped >= stopped["not_tried"] > 0
    # The plan reads the target first: the persons it could not decide are blocked, those
    # after the breaker tripped with its reason and without a request.
    undecided = [b for b in report["blocked"] if b["field"].startswith("targets.helloid.")]
    reasons = [b["problem"] for b in undecided]
    assert sum("helloid is stopped (credentials refused: HTTP 401)" in r for r in reasons) >= 5

    # One line says why; the few failures each say so once, and nothing more.
    lines = result.stderr.splitlines()
    assert sum("helloid stopped: credentials refused (HTTP 401)" in line for line in lines) == 1
    assert len(lines) <= CONCURRENCY + 4, result.stderr
    assert org.json("audit", str(org.pipeline), "--run", str(report["run"]))["records"]
    _afas_went_on(org, report["run"])


def test_the_summary_shows_the_stopped_target_to_people(org: Org) -> None:
    org.env["HELLOID_API_SECRET"] = "not-the-secret-0123456789abcdef"
    result = org.idsync("run", str(org.pipeline), "--as-of", JOINED, check=1)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("stopped ")]
    assert line.startswith("stopped helloid stopped: it refused the credentials (HTTP 401) in 3")
    assert "action(s) not tried, the next run plans them again" in line


@contextmanager
def _hanging_up() -> Iterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1 that accepts each connection and closes it at once, counting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1", accepted
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_an_unreachable_target_stops_within_the_retry_budget_of_one_action(org: Org) -> None:
    with _hanging_up() as (url, accepted):
        org.env["HELLOID_BASE_URL"] = url
        report = org.json("run", str(org.pipeline), "--as-of", JOINED, check=1)
        connections = len(accepted)
    # Each action in flight spends its retries once; no action after them is tried.
    assert RETRIES + 1 <= connections <= CONCURRENCY * (RETRIES + 1), connections
    [stopped] = report["stopped_targets"]
    assert (stopped["target"], stopped["reason"]) == ("helloid", "unreachable")
    assert "no answer" in stopped["detail"]
    failed = sum(report["counts"].get("failed", {}).values())
    assert failed <= CONCURRENCY
    assert stopped["not_tried"] > 0
    undecided = [b["problem"] for b in report["blocked"] if b["person"]]
    assert sum("helloid is stopped (unreachable" in problem for problem in undecided) >= 5
    _afas_went_on(org, report["run"])


def test_a_closed_port_is_unreachable_at_once(org: Org) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: every connection is refused
    org.env["HELLOID_BASE_URL"] = f"http://127.0.0.1:{port}/api/v1"
    report = org.json("run", str(org.pipeline), "--as-of", JOINED, check=1)
    [stopped] = report["stopped_targets"]
    assert stopped["reason"] == "unreachable"
    assert "ConnectError" in stopped["detail"]
    assert sum(report["counts"].get("failed", {}).values()) <= CONCURRENCY
    _afas_went_on(org, report["run"])


def test_a_target_that_answers_again_is_not_stopped(org: Org) -> None:
    """Transient trouble (a few 503s that the retries get past) never trips the breaker."""
    org.helloid_sim.faults.error_rate = 0.3
    report = org.json("run", str(org.pipeline), "--as-of", JOINED, check=None)
    assert report["stopped_targets"] == []


def test_a_target_refusing_while_enforcing_stops_within_a_handful_of_requests(org: Org) -> None:
    """Everyone linked: the plan asks the target nothing, and enforcing meets the 401s."""
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    text = org.pipeline.read_text(encoding="utf-8")
    org.pipeline.write_text(  # every account's first name changes: one update per account
        text.replace(
            'firstName: "{{ person.name.first }}"', 'firstName: "{{ person.name.first }}."'
        ),
        encoding="utf-8",
    )
    org.env["HELLOID_API_SECRET"] = "not-the-secret-0123456789abcdef"
    before = len(org.helloid_sim.log.all())
    report = org.json("run", str(org.pipeline), "--as-of", JOINED, check=1)
    requests = org.helloid_sim.log.all()[before:]
    assert all(r.status == 401 for r in requests)
    assert 3 <= len(requests) <= CONCURRENCY + 3, len(requests)
    [stopped] = report["stopped_targets"]
    assert (stopped["target"], stopped["reason"], stopped["failures"]) == (
        "helloid",
        "credentials refused",
        3,
    )
    assert stopped["not_tried"] >= 1  # a small organisation: most were in flight
    assert sum(report["counts"]["skipped"].values()) >= stopped["not_tried"]
    # Every failed action was tried (the breaker opens after three, and the actions that
    # meet it open are skipped): no more failed than requests were sent.
    assert sum(report["counts"].get("failed", {}).values()) <= len(requests)
