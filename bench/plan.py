"""Plan at scale: synthetic persons with two contracts each, five static rules, one dynamic.

Two scenarios per size, each measured in a process of its own:

- ``first``: an empty state store, so every entitled person gets a create, an enable and
  their grants (the initial load of an organisation);
- ``steady``: the state a completed first run leaves (written by ``--setup``), so planning
  again finds nothing to do (the nightly run).

Two paths: ``make`` times the store reads plus :func:`idsync.plan.make_plan` over persons
already in memory (imported through the engine's importer from the memory source first,
untimed); ``engine`` times the whole :meth:`idsync.engine.Engine.plan` (import: validation,
hashing, snapshot comparison; then the plan), with the source's own time reported apart.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import Clock, child, emit, log_to, peak_rss_mb, rss_mb
from _helloid import helloid_simulator
from _pipeline import SOURCE_SECONDS, TimedEngine, load, pipeline_text, target_env, today
from idsync.engine import Engine
from idsync.expressions import Expressions
from idsync.importer import import_source, merge
from idsync.model import HookContext
from idsync.plan import Known, Plan, make_plan

__all__ = ["run"]

TARGET = "helloid"


def _setup(db: Path, size: int) -> dict[str, Any]:
    """Write the state a successful first run over ``size`` persons leaves into ``db``."""
    from _state import apply

    pipeline, registry = load(db.parent, pipeline_text(f"sqlite:///{db}", size=size), target_env())
    engine = Engine(pipeline, registry)
    store = engine.store
    system = engine.system("hr")
    ctx = HookContext(system="hr", as_of=today(), settings=system.settings)
    imp = import_source(system, pipeline.sources["hr"], store, ctx)
    run_id = store.start_run(pipeline.label, "run", today(), False)
    departments = {k: v.model_dump(mode="json") for k, v in imp.departments.items()}
    store.accept_snapshot("hr", run_id, imp.changed, imp.removed, departments, imp.counts)
    imp.changed = {}
    persons, known = merge([imp])
    plan = make_plan(
        pipeline,
        persons,
        known,
        {TARGET: Known(hooks=engine.system(TARGET).hooks())},
        engine.expressions,
        today(),
    )
    rows = apply(store, plan)
    store.finish_run(run_id, "done", 0, {})
    engine.close()
    return rows


def _counts(plan: Plan) -> dict[str, int]:
    return dict(Counter(a.kind.value for a in plan.actions()))


def _make(db: Path, size: int) -> dict[str, Any]:
    """Store reads plus make_plan over persons in memory."""
    pipeline, registry = load(db.parent, pipeline_text(f"sqlite:///{db}", size=size), target_env())
    engine = Engine(pipeline, registry)
    store = engine.store
    system = engine.system("hr")
    ctx = HookContext(system="hr", as_of=today(), settings=system.settings, dry_run=True)
    clock = Clock()
    with clock.step("import"):
        imp = import_source(system, pipeline.sources["hr"], store, ctx)
    imp.changed = {}  # the snapshot to store: not part of what a plan holds
    persons, departments = merge([imp])
    gc.collect()
    before = rss_mb()
    capabilities = {TARGET: engine.system(TARGET).hooks()}
    with clock.step("plan_total"):
        with clock.step("store_read"):
            known = {
                TARGET: Known(
                    accounts=store.accounts(TARGET),
                    resources=store.resources(TARGET),
                    hooks=capabilities[TARGET],
                )
            }
        with clock.step("make_plan"):
            plan = make_plan(
                pipeline,
                persons,
                departments,
                known,
                Expressions(registry.expression_functions()),
                today(),
            )
    return {
        "persons": len(persons),
        "blocked": len(plan.blocked),
        "actions": _counts(plan),
        "wall": clock.wall,
        "cpu": clock.cpu,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _engine(db: Path, size: int, url: str) -> dict[str, Any]:
    """The whole Engine.plan: import from the memory source, compare, read the target for the
    persons without an account (a HelloID tenant at ``url``), plan."""
    pipeline, registry = load(
        db.parent, pipeline_text(f"sqlite:///{db}", size=size), target_env(url)
    )
    engine = TimedEngine(pipeline, registry)
    engine.system("hr")
    engine.system(TARGET)
    clock = Clock()
    before = rss_mb()
    SOURCE_SECONDS[0] = 0.0
    with clock.step("total"):
        report = engine.plan(as_of=today())
    assert report.plan is not None
    source = SOURCE_SECONDS[0]
    return {
        "target_requests": sum(report.plan.lookups.values()),
        "persons": report.imports[0].counts["persons"],
        "changed": report.imports[0].counts["changed"] + report.imports[0].counts["added"],
        "blocked": len(report.plan.blocked),
        "actions": _counts(report.plan),
        "wall": {
            **clock.wall,
            "source": source,
            "engine": clock.wall["total"] - source,
            "import": engine.steps["import"] - source,
            "plan": engine.steps["plan"],
        },
        "cpu": clock.cpu,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    """Every case for every size; each measured in a child process. The whole-engine cases
    read an (empty) simulated HelloID tenant, as a first run into a new target does."""
    with helloid_simulator() as sim:
        return _run(sizes, work, sim.api)


def _run(sizes: list[int], work: Path, url: str) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        steady = work / f"steady-{size}" / "state.db"
        steady.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        seeded = child("plan", ["--setup", "--size", str(size), "--db", str(steady)])
        setup_s = time.perf_counter() - started
        for scenario in ("first", "steady"):
            for path in ("make", "engine"):
                if scenario == "first":
                    db = work / f"first-{size}-{path}" / "state.db"
                    db.parent.mkdir(parents=True, exist_ok=True)
                else:
                    db = work / f"steady-{size}-{path}" / "state.db"
                    db.parent.mkdir(parents=True, exist_ok=True)
                    db.write_bytes(steady.read_bytes())
                args = ["--case", path, "--size", str(size), "--db", str(db), "--url", url]
                result = child("plan", args)
                result.update(size=size, scenario=scenario, path=path)
                if scenario == "steady":
                    result["setup"] = {**seeded, "seconds": round(setup_s, 1)}
                results.append(result)
                print(f"  plan {scenario:6} {path:6} {size:>7}: {_brief(result)}", flush=True)
    return results


def _brief(result: dict[str, Any]) -> str:
    wall = result["wall"]
    took = wall.get("plan_total", wall.get("total", 0.0))
    return f"{took:.1f} s, peak {result['peak_rss_mb']:.0f} MB, actions {result['actions']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=("make", "engine"))
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:9/api/v1")
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if args.setup:
        emit(_setup(args.db, args.size))
    elif args.case == "make":
        emit(_make(args.db, args.size))
    elif args.case == "engine":
        emit(_engine(args.db, args.size, args.url))
    else:
        with tempfile.TemporaryDirectory() as work:
            for result in run([args.size], Path(work)):
                print(result)


if __name__ == "__main__":
    main()
