"""Enforce near the limit: creates and group grants against HelloID with 50 ms per request.

Every person is a joiner (contracts start in a week), so a run plans for each one a create
(``POST /users``: the plan looked the user name up already, in one listing of the tenant)
and three group grants, and no enable. The HelloID simulator runs in a process of its own
and adds 50 ms to every request, as a distant cloud API does. A run is a real
``Engine.run``: import, plan, and the enforcer's workers, each action recorded in the state
store as it finishes.

The bound is what the target allows: ``concurrency / latency`` requests per second (or the
simulator's rate limit when lower); requests per action are counted from the simulator's
own request log, so the bound in actions per second is ``bound / (requests / actions)``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Clock, child, emit, log_to
from _helloid import HelloIDSim, helloid_simulator, tally
from _pipeline import HELLOID_KEY, HELLOID_SECRET, load, today
from idsync.engine import Engine, Progress
from idsync.model import ActionStatus
from idsync.plan import Action

__all__ = ["run"]

GROUPS = ("Staff", "Noorderlicht", "Intranet")
LATENCY = 0.05

_PIPELINE = """
name: bench-enforce
state: sqlite:///{db}
sources:
  hr:
    plugin: bench-memory
    settings: {{size: {persons}, starts_in: 7}}
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
      {rate}
    concurrency: {concurrency}
    account:
      correlate: {{person: account.userName, account: userName}}
      mapping:
        userName: "{{{{ person.contact.email }}}}"
        firstName: "{{{{ person.name.first }}}}"
        lastName: "{{{{ person.name.full_family }}}}"
        contactEmail: "{{{{ person.contact.email }}}}"
        userAttributes.employeeId: "{{{{ person.external_id }}}}"
        userAttributes.department: "{{{{ contract.department.name }}}}"
      manager: false
      lifecycle: {{create_days_before_start: 14, enable_days_before_start: 0}}
    permissions:
{grants}
"""


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


def _measure(
    db: Path, url: str, persons: int, concurrency: int, rate: float | None
) -> dict[str, Any]:
    grants = "\n".join(f'      - {{grant: "group:{name}"}}' for name in GROUPS)
    text = _PIPELINE.format(
        db=db,
        persons=persons,
        concurrency=concurrency,
        rate=f"rate_limit: {rate}" if rate else "",
        grants=grants,
    )
    env = {"HELLOID_BASE_URL": url, "HELLOID_API_KEY": HELLOID_KEY}
    env["HELLOID_API_SECRET"] = HELLOID_SECRET
    pipeline, registry = load(db.parent, text, env)
    engine = Engine(pipeline, registry)
    timing = _Timing()
    clock = Clock()
    with clock.step("run"):
        report = engine.run(as_of=today(), progress=timing, time_travel=True)
    engine.close()
    counts = report.nested_counts()
    done = counts.get(ActionStatus.DONE.value, {})
    return {
        "exit_code": report.exit_code,
        "done": done,
        "failed": counts.get(ActionStatus.FAILED.value, {}),
        "actions": sum(done.values()),
        "wall": {**clock.wall, "enforce": timing.finished - timing.started},
        "cpu": clock.cpu,
    }


def _case(
    sim: HelloIDSim,
    work: Path,
    name: str,
    persons: int,
    concurrency: int,
    rate: float | None,
    limit: float | None,
) -> dict[str, Any]:
    db = work / f"enforce-{name}" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    sim.create_groups(GROUPS)
    sim.clear()
    args = ["--url", sim.api, "--db", str(db), "--persons", str(persons)]
    args += ["--concurrency", str(concurrency)]
    if rate:
        args += ["--rate", str(rate)]
    result = child("enforce", ["--measure", *args])
    requests = tally(sim.requests())
    seconds = result["wall"]["enforce"]
    bound = concurrency / LATENCY if limit is None else min(concurrency / LATENCY, limit)
    # Requests the target answered with work done (a 429 did nothing, and is retried).
    accepted = requests["requests"] - requests["throttled"]
    per_action = accepted / max(1, result["actions"])
    result.update(
        case=name,
        persons=persons,
        concurrency=concurrency,
        latency=LATENCY,
        server_limit=limit,
        client_limit=rate,
        http=requests,
        requests_per_action=per_action,
        actions_per_s=result["actions"] / seconds,
        requests_per_s=accepted / seconds,
        attempts_per_s=requests["requests"] / seconds,
        bound_requests_per_s=bound,
        bound_actions_per_s=bound / per_action,
        ratio=accepted / seconds / bound,
    )
    print(
        f"  enforce {name:16} c={concurrency:<2} {result['actions']:>5} actions in {seconds:5.1f} s:"
        f" {result['actions_per_s']:6.1f} actions/s, {per_action:.2f} req/action,"
        f" {result['requests_per_s']:6.1f} req/s of {bound:.0f} = {result['ratio']:.2f};"
        f" 429s {requests['throttled']}",
        flush=True,
    )
    return result


CASES: list[tuple[str, int, int, float | None, float | None]] = [
    # name, persons, concurrency, client rate limit, server rate limit
    ("c1", 50, 1, None, None),
    ("c8", 400, 8, None, None),
    ("c32", 2000, 32, None, None),
    ("c32-limit-unknown", 750, 32, None, 200.0),
    ("c32-limit-known", 750, 32, 200.0, 200.0),
]


def run(work: Path, scale: float = 1.0) -> list[dict[str, Any]]:
    """Every case, each against a fresh simulated tenant."""
    results = []
    for name, persons, concurrency, rate, limit in CASES:
        with helloid_simulator(latency=LATENCY, rate_limit=limit) as sim:
            size = max(10, int(persons * scale))
            results.append(_case(sim, work, name, size, concurrency, rate, limit))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--persons", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float)
    args = parser.parse_args()
    if args.db is not None:
        log_to(args.db.parent / "idsync.log")
    if not args.measure:
        parser.error("give --measure (bench/run.py runs the whole benchmark)")
    emit(_measure(args.db, args.url, args.persons, args.concurrency, args.rate))


if __name__ == "__main__":
    main()
