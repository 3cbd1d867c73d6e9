"""On the sandbox, over real HTTP, the plan counts what the run then does.

The sandbox's HelloID holds accounts made by hand before idsync; the shipped example pipeline
correlates on the employee number. The plan reads the targets, so its creates are the accounts
HelloID gains, its links the correlations the run makes, and a plan right after the run is
empty.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from idsync.config import load_pipeline
from idsync.engine import Engine
from idsync.plugins import Registry
from idsync.sandbox import Sandbox

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "afas-helloid.yaml"
TODAY = dt.date(2026, 3, 2)


def test_the_plan_counts_what_the_run_does_on_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the example's state store is ./idsync.db
    with Sandbox(size=150, seed=7, today=TODAY) as sandbox:
        helloid = sandbox.apps["helloid"]
        registry = Registry()
        engine = Engine(load_pipeline(EXAMPLE, registry, env=sandbox.env), registry)
        try:
            live = {g for g, u in helloid.data.users.items() if not u["isDeleted"]}
            writes = len(helloid.app.log.writes())
            plan = engine.plan(as_of=TODAY)
            assert plan.plan is not None
            assert len(helloid.app.log.writes()) == writes  # planning reads, never writes
            planned = Counter(a.kind.value for a in plan.plan.actions())
            assert planned["correlate"] > 0  # hand-made accounts to link
            assert planned["create"] > 0  # and persons with none

            run = engine.run(TODAY, time_travel=True)
            assert run.count("failed") == 0
            gained = {g for g, u in helloid.data.users.items() if not u["isDeleted"]} - live
            assert run.count("done", "create") == planned["create"] == len(gained)
            assert run.count("done", "correlate") == planned["correlate"]
            done = Counter(
                {kind: n for (status, kind), n in run.counts.items() if status == "done"}
            )
            assert done == planned  # every planned action, and nothing else

            again = engine.plan(as_of=TODAY)
            assert again.plan is not None
            assert list(again.plan.actions()) == []
        finally:
            engine.close()
