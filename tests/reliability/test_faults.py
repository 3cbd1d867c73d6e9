"""Faults everywhere: 5xx, timeouts, 429 bursts and dropped connections on both simulators, over
500 persons. The pipeline converges within a bounded number of runs, with every account and
every grant exactly once, the audit trail in agreement with HelloID and AFAS, and every failure
on the way recorded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reliability.harness import BigOrg, big_org, check_agreement, recorded_runs

MAX_RUNS = 8
"""Runs allowed to converge: each retries what failed before, and a failure is ~5% of actions."""

FAULTS = {
    "error_rate": 0.10,  # 500/502/503 before the work is done
    "timeout_rate": 0.05,  # the work is done, the answer comes after the client gave up
    "hang": 0.45,
    "drop_rate": 0.02,  # the work is done, the connection closes half-way through the answer
}
"""And bursts of 429 with ``Retry-After`` (:meth:`BigOrg.rate_limit_bursts`)."""
PLUGIN_TIMEOUT = 0.3
"""Seconds the plugins wait for an answer; below ``hang``, so a held answer is a timeout."""


def _converge(org: BigOrg) -> list[tuple[int, dict[str, Any]]]:
    """Run until a run has nothing to do; each run's exit code and ``--json`` output."""
    outcomes: list[tuple[int, dict[str, Any]]] = []
    for _ in range(MAX_RUNS):
        run = org.run()
        data = run.json()
        outcomes.append((run.code, data))
        failed = sum(data["counts"].get("failed", {}).values())
        assert run.code == (1 if failed or data["error"] else 0), run.stderr[-2000:]
        if run.code == 0 and not data["counts"]:
            return outcomes
    pytest.fail(f"no convergence in {MAX_RUNS} runs: {[code for code, _ in outcomes]}")


@pytest.mark.slow
def test_faults_everywhere_converge_with_nothing_lost_or_duplicated(
    tmp_path: Path, state_url: str
) -> None:
    with big_org(tmp_path, state_url) as org:
        org.timeout = PLUGIN_TIMEOUT
        org.write_pipeline()
        plan = org.plan().json()
        entitled = {
            a["person"]
            for a in plan["actions"]
            if a["target"] == "helloid" and a.get("transition") == "joiner"
        }
        assert len(entitled) > 400

        for sim in (org.afas.app, org.helloid_sim):
            sim.faults.update(FAULTS)
        with org.rate_limit_bursts():
            outcomes = _converge(org)

        faults = Counter(r.fault for r in org.helloid_sim.log.all() + org.afas.app.log.all())
        assert all(faults[kind] > 0 for kind in ("error", "timeout", "drop", "rate-limit")), faults
        assert outcomes[0][0] == 1, "the faults never failed an action"

        # Every failure on the way is in the audit trail, as the run counted it.
        runs = recorded_runs(org)
        assert [r["exit_code"] for r in runs] == [code for code, _ in outcomes]
        for run, (code, data) in zip(runs, outcomes, strict=True):
            assert run["audit_counts"] == (run["counts"] or {}) == data["counts"], run["id"]
            failed = sum(run["audit_counts"].get("failed", {}).values())
            assert (failed > 0 or data["error"] is not None) == (code == 1), run["id"]
        store = org.store()
        try:
            failures = [r for r in store.audit(limit=1_000_000) if r["status"] == "failed"]
        finally:
            store.close()
        assert failures
        for record in failures:
            assert record["messages"], record  # each says what went wrong
            assert all(message.strip() for message in record["messages"]), record

        # Quiet again: nothing is left to do, and nothing is written.
        org.quiet()
        org.clear_logs()
        final = org.run()
        assert final.code == 0
        assert final.json()["counts"] == {}
        assert org.target_writes() == []
        figures = check_agreement(org)
        assert figures["shadows"] == entitled
