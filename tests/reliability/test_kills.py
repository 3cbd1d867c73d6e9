"""SIGKILL on 500 persons with a faulty target: the runner is killed three times during
enforcement (at seeded points, counted in HelloID writes) while HelloID answers 5xx and drops
connections. The runs after converge: every account and grant exactly once, and the state
store and audit trail agree with HelloID and AFAS. (tests/test_resume.py kills at ten points
on the small organisation.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from reliability.harness import AS_OF, BigOrg, big_org, check_agreement
from support import run_and_kill

KILL_POINTS = random.Random(500).sample(range(30, 500), 3)
"""HelloID writes after which each of three successive runs is killed (a full run makes ~2,000)."""
MAX_RUNS = 6


def _run_and_kill(org: BigOrg, after_writes: int) -> bool:
    """A run killed once HelloID has seen ``after_writes`` more writes (or finished first)."""
    return run_and_kill(
        org.pipeline,
        org.env,
        lambda: len(org.helloid_sim.log.writes()),
        as_of=AS_OF,
        after_writes=after_writes,
        timeout=120,
    )


@pytest.mark.slow
def test_killed_runs_over_a_faulty_target_converge_without_duplicates_or_losses(
    tmp_path: Path, state_url: str
) -> None:
    with big_org(tmp_path, state_url) as org:
        org.timeout = 0.5
        org.write_pipeline()
        entitled = {
            a["person"]
            for a in org.plan().json()["actions"]
            if a["target"] == "helloid" and a.get("transition") == "joiner"
        }
        org.helloid_sim.faults.update({"error_rate": 0.05, "drop_rate": 0.02})
        for point in KILL_POINTS:
            assert _run_and_kill(org, point), f"the run ended before {point} writes"

        for _ in range(MAX_RUNS):
            run = org.run()
            assert run.code in (0, 1), run.stderr[-2000:]
            if run.code == 0 and not run.json()["counts"]:
                break
        else:
            pytest.fail(f"no convergence in {MAX_RUNS} runs after the kills")

        org.quiet()
        org.clear_logs()
        final = org.run()
        assert final.code == 0
        assert final.json()["counts"] == {}
        assert org.target_writes() == []
        figures = check_agreement(org)
        assert figures["shadows"] == entitled
        store = org.store()
        try:
            killed = [r for r in store.runs(limit=100) if r["status"] == "crashed"]
        finally:
            store.close()
        assert len(killed) == len(KILL_POINTS)
