"""Import at scale: persons read from the AFAS simulator over real HTTP on 127.0.0.1.

The simulator (a process of its own) serves a generated organisation; the engine's importer
reads it through the AFAS plugin: organisational units, employments and positions first,
then the Users connector streamed page by page, each person validated, hashed and compared
with the last snapshot. Two scenarios, each in a process of its own:

- ``first``: an empty state store (every person is new, as on the first run);
- ``repeat``: the snapshot of an earlier import is stored (nothing changed: a nightly run).

Reported: persons per second, connector rows per second, the source's share (time inside
the plugin: HTTP, JSON, the join) against the engine's, and the peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
from pathlib import Path
from typing import Any

from _afas import ROWS_READ, TimedAfas, afas_env
from _common import Clock, child, emit, log_to, peak_rss_mb, rss_mb
from _pipeline import SOURCE_SECONDS, load, pipeline_text, target_env
from idsync.engine import Engine
from idsync.importer import SourceImport, import_source
from idsync.model import HookContext

__all__ = ["run"]


def _engine(db: Path, url: str, page_size: int) -> Engine:
    text = pipeline_text(f"sqlite:///{db}", "afas-timed", page_size=page_size)
    pipeline, registry = load(
        db.parent, text, {**afas_env(url), **target_env()}, {"afas-timed": TimedAfas}
    )
    return Engine(pipeline, registry)


def _import(engine: Engine, as_of: dt.date) -> SourceImport:
    system = engine.system("hr")
    ctx = HookContext(system="hr", as_of=as_of, settings=system.settings, dry_run=True)
    return import_source(system, engine.pipeline.sources["hr"], engine.store, ctx)


def _measure(db: Path, url: str, page_size: int, as_of: dt.date, accept: bool) -> dict[str, Any]:
    engine = _engine(db, url, page_size)
    plugin = engine.system("hr").plugin
    assert isinstance(plugin, TimedAfas)
    clock = Clock()
    gc.collect()
    before = rss_mb()
    SOURCE_SECONDS[0] = 0.0
    ROWS_READ[0] = 0
    with clock.step("import"):
        imp = _import(engine, as_of)
    total = clock.wall["import"]
    peak = peak_rss_mb()
    if accept:  # store the snapshot, as a finished run does, for the next scenario
        store = engine.store
        run_id = store.start_run(engine.pipeline.label, "run", as_of, False)
        departments = {k: v.model_dump(mode="json") for k, v in imp.departments.items()}
        store.accept_snapshot("hr", run_id, imp.changed, imp.removed, departments, imp.counts)
        store.finish_run(run_id, "done", 0, {})
    return {
        "persons": imp.counts["persons"],
        "blocked": imp.counts["blocked"],
        "changed": imp.counts["added"] + imp.counts["changed"],
        "rows": ROWS_READ[0],
        "requests": plugin.requests(),
        "wall": {"import": total, "source": SOURCE_SECONDS[0], "engine": total - SOURCE_SECONDS[0]},
        "cpu": clock.cpu,
        "persons_per_s": imp.counts["persons"] / total,
        "rows_per_s": ROWS_READ[0] / total,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
    }


def run(url: str, work: Path, as_of: dt.date, page_size: int = 1000) -> list[dict[str, Any]]:
    """Both scenarios against the simulator at ``url`` (the first stores its snapshot)."""
    results = []
    db = work / "import" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    base = ["--url", url, "--db", str(db), "--page-size", str(page_size), "--as-of", str(as_of)]
    for scenario in ("first", "repeat"):
        extra = ["--accept"] if scenario == "first" else []
        result = child("importing", ["--measure", *base, *extra])
        result.update(scenario=scenario, page_size=page_size)
        results.append(result)
        print(
            f"  import {scenario:6}: {result['persons']} persons in {result['wall']['import']:.1f} s"
            f" ({result['persons_per_s']:.0f}/s, {result['rows_per_s']:.0f} rows/s),"
            f" source {result['wall']['source']:.1f} s, peak {result['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--accept", action="store_true", help="store the snapshot afterwards")
    parser.add_argument("--measure", action="store_true")
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if not args.measure:
        parser.error("give --measure (bench/run.py runs the whole benchmark)")
    emit(_measure(args.db, args.url, args.page_size, args.as_of, args.accept))


if __name__ == "__main__":
    main()
