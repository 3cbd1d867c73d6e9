"""Joiners against HelloID with 50 ms per request: requests per joiner, and the share of the
bound the run reaches.

2,000 persons start today, each with one contract in one of 20 departments and a department
group to get (the groups exist). A run is a real ``Engine.run`` at concurrency 32 against the
HelloID simulator in a process of its own, which adds 50 ms to every request: the plan reads
the tenant (one listing), then each joiner is created enabled and added to its group. The
bound is ``concurrency / latency`` requests per second; the share of the bound is the
requests per second the run reached (enforcing) over that bound. Requests per joiner count
every request of the run, the plan's reads included, from the simulator's own log.

``--engine PYTHON`` measures with another checkout's interpreter (its idsync), so figures
before and after a change sit side by side; the script only uses what both engines have.
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import Clock, child, emit, log_to
from _helloid import HelloIDSim, helloid_simulator, tally
from _pipeline import HELLOID_KEY, HELLOID_SECRET, load, today
from idsync import HookContext, PluginAbout, PluginKind, hookimpl
from idsync.engine import Engine, Progress
from idsync.model import ActionStatus
from idsync.plan import Action
from pydantic import BaseModel, ConfigDict

__all__ = ["run"]

LATENCY = 0.05
DEPARTMENTS = [f"D{n:02}" for n in range(20)]

_PIPELINE = """
name: bench-joiners
state: sqlite:///{db}
sources:
  hr:
    plugin: bench-joiners
    settings: {{size: {persons}}}
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: "${{HELLOID_BASE_URL}}"
      api_key: "${{HELLOID_API_KEY}}"
      api_secret: "${{HELLOID_API_SECRET}}"
      concurrency: {concurrency}
      timeout: 30
      retries: 20
      backoff: 0.2
      max_backoff: 10
    concurrency: {concurrency}
    account:
      correlate: {{person: external_id, account: userAttributes.employeeId}}
      unique:
        userName: ["{{{{ person.contact.email }}}}"]
      mapping:
        firstName: "{{{{ person.name.first }}}}"
        lastName: "{{{{ person.name.full_family }}}}"
        contactEmail: "{{{{ person.contact.email }}}}"
        userAttributes.employeeId: "{{{{ person.external_id }}}}"
      manager: false
      lifecycle: {{create_days_before_start: 14, enable_days_before_start: 0}}
    permissions:
      - {{dynamic: "group:department_{{{{ contract.department.code }}}}"}}
"""


class JoinerSettings(BaseModel):
    """How many joiners."""

    model_config = ConfigDict(extra="forbid")

    size: int = 0


class Joiners:
    """A source of ``size`` persons who all start today, one contract each."""

    def __init__(self, settings: JoinerSettings | None = None) -> None:
        self.settings = settings or JoinerSettings()

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="bench-joiners",
            kind=PluginKind.SOURCE,
            version="0",
            summary="joiners who start today",
            settings=JoinerSettings,
        )

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterator[dict[str, Any]]:
        """The joiners."""
        start = today().isoformat()
        for n in range(self.settings.size):
            dep = DEPARTMENTS[n % len(DEPARTMENTS)]
            yield {
                "external_id": f"J{n:05}",
                "name": {"given": f"Joiner{n}", "family": "Bench"},
                "contact": {"email": f"joiner{n}@bench.example"},
                "contracts": [
                    {
                        "external_id": f"J{n:05}-1",
                        "start": start,
                        "department": {"external_id": dep, "code": dep, "name": dep},
                    }
                ],
            }

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> list[dict[str, Any]]:
        """The departments."""
        return [{"external_id": d, "code": d, "name": d} for d in DEPARTMENTS]


class _Timing(Progress):
    """When enforcing started and when its last action finished."""

    def __init__(self) -> None:
        self.started = 0.0
        self.finished = 0.0

    def enforcing(self, target: str, total: int) -> Callable[[Action, ActionStatus], None]:
        self.started = self.finished = time.perf_counter()

        def done(action: Action, status: ActionStatus) -> None:
            self.finished = time.perf_counter()

        return done


def _measure(db: Path, url: str, persons: int, concurrency: int) -> dict[str, Any]:
    text = _PIPELINE.format(db=db, persons=persons, concurrency=concurrency)
    env = {"HELLOID_BASE_URL": url, "HELLOID_API_KEY": HELLOID_KEY}
    env["HELLOID_API_SECRET"] = HELLOID_SECRET
    pipeline, registry = load(db.parent, text, env, extra={"bench-joiners": Joiners})
    engine = Engine(pipeline, registry)
    timing = _Timing()
    clock = Clock()
    options: dict[str, Any] = {"progress": timing}
    if "time_travel" in inspect.signature(engine.run).parameters:
        options["time_travel"] = True
    with clock.step("run"):
        report = engine.run(as_of=today(), **options)
    engine.close()
    counts = report.nested_counts()
    return {
        "exit_code": report.exit_code,
        "done": counts.get(ActionStatus.DONE.value, {}),
        "failed": counts.get(ActionStatus.FAILED.value, {}),
        "wall": {**clock.wall, "enforce": timing.finished - timing.started},
        "cpu": clock.cpu,
    }


def _case(
    sim: HelloIDSim, work: Path, persons: int, concurrency: int, python: str | None
) -> dict[str, Any]:
    name = "before" if python else "now"
    db = work / f"joiners-{name}-{persons}" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    sim.create_groups(f"department_{d}" for d in DEPARTMENTS)
    sim.clear()
    args = ["--measure", "--url", sim.api, "--db", str(db), "--persons", str(persons)]
    args += ["--concurrency", str(concurrency)]
    result = child("joiners", args, python=python)
    requests = tally(sim.requests())
    seconds = result["wall"]["enforce"]
    bound = concurrency / LATENCY
    joiners = result["done"].get("create", 0)
    accepted = requests["requests"] - requests["throttled"]
    result.update(
        engine=name,
        persons=persons,
        concurrency=concurrency,
        latency=LATENCY,
        http=requests,
        joiners=joiners,
        requests_per_joiner=accepted / max(1, joiners),
        joiners_per_s=joiners / seconds,
        requests_per_s=accepted / seconds,
        bound_requests_per_s=bound,
        ratio=accepted / seconds / bound,
    )
    print(
        f"  joiners {name:6} c={concurrency}: {joiners} joiners in {seconds:5.1f} s,"
        f" {result['requests_per_joiner']:.2f} requests each, {result['joiners_per_s']:.1f}/s,"
        f" {result['requests_per_s']:.0f} req/s of {bound:.0f} = {result['ratio']:.2f}",
        flush=True,
    )
    return result


def run(
    work: Path, scale: float = 1.0, before: str | None = None, concurrency: int = 32
) -> list[dict[str, Any]]:
    """The joiner run now (and, with ``before``, with that interpreter's engine), each
    against a fresh simulated tenant."""
    persons = max(20, int(2000 * scale))
    results = []
    for python in (before, None) if before else (None,):
        with helloid_simulator(latency=LATENCY) as sim:
            results.append(_case(sim, work, persons, concurrency, python))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--engine", help="another checkout's python, measured as 'before'")
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if args.measure:
        emit(_measure(args.db, args.url, args.persons, args.concurrency))
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="idsync-bench-") as tmp:
        for result in run(Path(tmp), args.persons / 2000, args.engine, args.concurrency):
            print({k: v for k, v in result.items() if k not in ("http",)})


if __name__ == "__main__":
    main()
