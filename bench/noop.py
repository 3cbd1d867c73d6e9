"""The no-op re-run: the second run over an unchanged organisation writes nothing anywhere.

The AFAS simulator serves a generated organisation (a process of its own); the state store
holds what a complete first run over it leaves (the source snapshot, every planned account
with its attributes, permissions and resources, written in bulk by ``--setup``). The
measured run is a real ``Engine.run`` (not a dry run) against AFAS and the HelloID
simulator: it must find nothing to do, so HelloID sees no request at all and AFAS no write.
Its time is split into the source's (inside the AFAS plugin: HTTP, JSON, joining the
connectors, validating the persons) and the engine's (hashing, comparison, planning,
bookkeeping). The run is measured twice: against the simulator as it is (on the same
machine, a page of 1,000 rows in milliseconds) and with 50 ms added to each AFAS request,
the latency the enforce benchmark gives the target (a remote AFAS takes longer still).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from _afas import TimedAfas, afas_env
from _common import Clock, child, emit, log_to
from _helloid import HelloIDSim, helloid_simulator, tally
from _pipeline import SOURCE_SECONDS, TimedEngine, load, pipeline_text, target_env
from _state import apply
from idsync.importer import import_source, merge
from idsync.model import HookContext
from idsync.plan import Known, make_plan

__all__ = ["run"]

TARGET = "helloid"


def _engine(db: Path, afas: str, helloid: str) -> TimedEngine:
    text = pipeline_text(f"sqlite:///{db}", "afas-timed")
    env = {**afas_env(afas), **target_env(helloid)}
    pipeline, registry = load(db.parent, text, env, {"afas-timed": TimedAfas})
    return TimedEngine(pipeline, registry)


def _setup(db: Path, afas: str, helloid: str, as_of: dt.date) -> dict[str, Any]:
    """The state a complete first run leaves: snapshot accepted, every action recorded."""
    engine = _engine(db, afas, helloid)
    store = engine.store
    system = engine.system("hr")
    ctx = HookContext(system="hr", as_of=as_of, settings=system.settings)
    imp = import_source(system, engine.pipeline.sources["hr"], store, ctx)
    run_id = store.start_run(engine.pipeline.label, "run", as_of, False)
    departments = {k: v.model_dump(mode="json") for k, v in imp.departments.items()}
    store.accept_snapshot("hr", run_id, imp.changed, imp.removed, departments, imp.counts)
    imp.changed = {}
    persons, known = merge([imp])
    plan = make_plan(
        engine.pipeline,
        persons,
        known,
        {TARGET: Known(hooks=engine.system(TARGET).hooks())},
        engine.expressions,
        as_of,
    )
    rows = apply(store, plan)
    store.finish_run(run_id, "done", 0, {})
    return {"persons": imp.counts["persons"], **rows}


def _measure(db: Path, afas: str, helloid: str, as_of: dt.date) -> dict[str, Any]:
    engine = _engine(db, afas, helloid)
    clock = Clock()
    SOURCE_SECONDS[0] = 0.0
    with clock.step("run"):
        report = engine.run(as_of=as_of, time_travel=True)
    plugin = engine.system("hr").plugin
    assert isinstance(plugin, TimedAfas)
    total = clock.wall["run"]
    counts = report.imports[0].counts
    source = SOURCE_SECONDS[0]
    steps = {
        "import (engine's part)": engine.steps["import"] - source,
        "plan": engine.steps["plan"],
        "rest": total - engine.steps["import"] - engine.steps["plan"],
    }
    return {
        "steps": steps,
        "exit_code": report.exit_code,
        "persons": counts["persons"],
        "changed": counts["added"] + counts["changed"] + counts["removed"],
        "actions": sum(n for (_, _), n in report.counts.items()),
        "afas_requests": plugin.requests(),
        "wall": {"run": total, "source": SOURCE_SECONDS[0], "engine": total - SOURCE_SECONDS[0]},
        "cpu": clock.cpu,
    }


AFAS_LATENCY = 0.05
"""Seconds added to every AFAS request in the second measurement."""


def _afas_latency(afas_root: str, seconds: float) -> None:
    with httpx.Client(timeout=60) as client:
        client.put(f"{afas_root}/__sim__/faults", json={"latency": seconds}).raise_for_status()


def _afas_writes(afas_root: str) -> int:
    """Writes the AFAS simulator answered (its request log, over its control endpoint)."""
    with httpx.Client(timeout=60) as client:
        answer = client.get(f"{afas_root}/__sim__/requests")
        answer.raise_for_status()
        return sum(1 for r in answer.json() if r["method"] not in ("GET", "HEAD"))


def run(afas: str, work: Path, as_of: dt.date) -> dict[str, Any]:
    """Set up the first run's state, then measure the second run."""
    db = work / "noop" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with helloid_simulator(latency=0.05) as sim:
        base = ["--afas", afas, "--helloid", sim.api, "--db", str(db), "--as-of", str(as_of)]
        seeded = child("noop", ["--setup", *base])
        sim.clear()
        result = child("noop", ["--measure", *base])
        result["helloid"] = tally(HelloIDSim(sim.root).requests())
        root = afas.removesuffix("/profitrestservices")
        _afas_latency(root, AFAS_LATENCY)
        try:
            remote = child("noop", ["--measure", *base])
        finally:
            _afas_latency(root, 0.0)
        remote["helloid"] = tally(HelloIDSim(sim.root).requests())
        result["remote"] = {**remote, "latency": AFAS_LATENCY}
    result["afas_writes"] = _afas_writes(root)
    result["setup"] = seeded
    wall = result["wall"]
    print(
        f"  no-op run: {result['persons']} persons, {result['actions']} actions,"
        f" HelloID requests {result['helloid']['requests']}, AFAS writes {result['afas_writes']};"
        f" {wall['run']:.1f} s = source {wall['source']:.1f} s + engine {wall['engine']:.1f} s,"
        f" peak {result['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    wall = result["remote"]["wall"]
    print(
        f"  no-op run, AFAS +{AFAS_LATENCY * 1000:.0f} ms per request:"
        f" {result['remote']['actions']} actions, HelloID requests"
        f" {result['remote']['helloid']['requests']}; {wall['run']:.1f} s ="
        f" source {wall['source']:.1f} s + engine {wall['engine']:.1f} s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--afas", required=True)
    parser.add_argument("--helloid", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--measure", action="store_true")
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if args.setup:
        emit(_setup(args.db, args.afas, args.helloid, args.as_of))
    elif args.measure:
        emit(_measure(args.db, args.afas, args.helloid, args.as_of))
    else:
        parser.error("give --setup or --measure (bench/run.py runs the whole benchmark)")


if __name__ == "__main__":
    main()
