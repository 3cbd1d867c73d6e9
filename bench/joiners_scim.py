"""Joiners against a real SCIM server: requests per joiner and joiners per second.

Every person is a joiner whose contracts start today, so a run plans for each one a create
(correlate first: ``GET /Users?filter=employeeNumber eq …``, then ``POST /Users``), an enable
(``PATCH active``) and one department group grant (``PATCH /Groups/{id}`` add member); the 80
department groups are made first as resources. The server is scim2-server (in memory, stdlib
``wsgiref`` with a thread per request) in a process of its own on 127.0.0.1; requests are
counted from its access log. A run is a real ``Engine.run``: import, plan, and the enforcer's
workers, each action recorded in the state store as it finishes.

scim2-server answers in well under a millisecond and shares the machine's two cores with the
engine, so the figures are the engine's and the plugin's own cost per joiner, not a network's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Clock, child, emit, log_to
from _pipeline import load, today
from idsync.engine import Engine, Progress
from idsync.model import ActionStatus
from idsync.plan import Action
from idsync_scim.testing import Request, Scim2Server

__all__ = ["run"]

TOKEN = "bench-scim-token-7d3e9a10"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

_PIPELINE = """
name: bench-scim
state: sqlite:///{db}
sources:
  hr:
    plugin: bench-memory
    settings: {{size: {persons}, starts_in: 0}}
targets:
  scim:
    plugin: scim
    settings:
      base_url: "${{SCIM_BASE_URL}}"
      token: "${{SCIM_TOKEN}}"
      concurrency: {concurrency}
      timeout: 30
      retries: 20
      backoff: 0.2
      max_backoff: 10
    concurrency: {concurrency}
    account:
      correlate: {{person: external_id, account: "{enterprise}:employeeNumber"}}
      mapping:
        userName: "{{{{ person.contact.email }}}}"
        externalId: "{{{{ person.external_id }}}}"
        displayName: "{{{{ person.display_name }}}}"
        name.givenName: "{{{{ person.name.first }}}}"
        name.familyName: "{{{{ person.name.full_family }}}}"
        'emails[type eq "work"].value': "{{{{ person.contact.email }}}}"
        "{enterprise}:employeeNumber": "{{{{ person.external_id }}}}"
        "{enterprise}:department": "{{{{ contract.department.name }}}}"
      manager: false
      lifecycle: {{create_days_before_start: 14, enable_days_before_start: 3}}
    permissions:
      - {{when: "(contract.fte or 0) >= 0.5", dynamic: "group:department_{{{{ contract.department.code }}}}"}}
    resources:
      - "group:department_{{{{ department.code }}}}"
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


def _measure(db: Path, url: str, persons: int, concurrency: int) -> dict[str, Any]:
    text = _PIPELINE.format(db=db, persons=persons, concurrency=concurrency, enterprise=ENTERPRISE)
    pipeline, registry = load(db.parent, text, {"SCIM_BASE_URL": url, "SCIM_TOKEN": TOKEN})
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
        "wall": {**clock.wall, "enforce": timing.finished - timing.started},
        "cpu": clock.cpu,
    }


def tally(requests: list[Request]) -> dict[str, Any]:
    """Requests by endpoint shape and status, and the writes among them."""
    kinds: Counter[str] = Counter()
    for r in requests:
        path, _, query = r.path.partition("?")
        parts = path.removeprefix("/v2").strip("/").split("/")
        shape = "/".join(p if i == 0 else "{id}" for i, p in enumerate(parts))
        what = " filter" if "filter=" in query else (" page" if "startIndex=" in query else "")
        kinds[f"{r.method} /{shape}{what} {r.status}"] += 1
    return {
        "requests": len(requests),
        "writes": sum(1 for r in requests if r.is_write),
        "by_endpoint": dict(sorted(kinds.items())),
    }


def _case(work: Path, name: str, persons: int, concurrency: int) -> dict[str, Any]:
    db = work / f"joiners-scim-{name}" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with Scim2Server(db.parent / "server", token=TOKEN) as server:
        before = len(server.requests())
        args = ["--url", server.url, "--db", str(db), "--persons", str(persons)]
        result = child("joiners_scim", ["--measure", *args, "--concurrency", str(concurrency)])
        http = tally(server.requests()[before:])
    done = result["done"]
    joiners = done.get("create", 0)
    seconds = result["wall"]["enforce"]
    result.update(
        case=name,
        persons=persons,
        concurrency=concurrency,
        joiners=joiners,
        http=http,
        requests_per_joiner=http["requests"] / max(1, joiners),
        writes_per_joiner=http["writes"] / max(1, joiners),
        joiners_per_s=joiners / seconds,
        requests_per_s=http["requests"] / seconds,
    )
    print(
        f"  joiners-scim {name:4} c={concurrency:<2} {joiners:>5} joiners in {seconds:5.1f} s:"
        f" {result['joiners_per_s']:6.1f} joiners/s, {result['requests_per_joiner']:.2f} req"
        f" ({result['writes_per_joiner']:.2f} writes) per joiner,"
        f" {result['requests_per_s']:6.1f} req/s; failed {result['failed'] or 'none'}",
        flush=True,
    )
    return result


CASES: list[tuple[str, int, int]] = [
    # name, persons, concurrency
    ("c1", 200, 1),
    ("c8", 1000, 8),
    ("c16", 1000, 16),
]


def run(work: Path, scale: float = 1.0) -> list[dict[str, Any]]:
    """Every case, each against a fresh scim2-server."""
    return [
        _case(work, name, max(20, int(persons * scale)), concurrency)
        for name, persons, concurrency in CASES
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--persons", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args()
    if args.measure:
        log_to(args.db.parent / "idsync.log")
        emit(_measure(args.db, args.url, args.persons, args.concurrency))
        return
    with tempfile.TemporaryDirectory(prefix="idsync-bench-") as tmp:  # the cases alone
        run(Path(tmp), 0.1 if args.quick else 1.0)


if __name__ == "__main__":
    main()
