"""The web console at scale: page answer times over 100,000 persons and a million audit records.

``--setup`` writes the state store: the state a complete first run over the synthetic persons
leaves (snapshot, accounts, permissions, resources; as the plan benchmark's), the first run's
audit trail (one record per action), then runs of a few thousand actions each until the audit
trail holds a million records (1 in 200 failed; approvals with their approver), held work
(open and decided) and a saved plan with blocked persons. ``--serve`` runs ``idsync serve``'s
application on a free port, in a process of its own. The parent signs in over HTTP on
127.0.0.1 and times each page: the first answer (cold) and the median, 95th percentile and
worst of the next ones, with the answer's size. Goal: under 200 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import BENCH, child, emit, log_to, start_server
from _pipeline import load, pipeline_text, target_env, today

__all__ = ["run"]

PERSONS = 100_000
AUDIT = 1_000_000
RUN_SIZE = 3_000
REPEAT = 15
GOAL_MS = 200.0
PASSWORD = "bench console password"
_CHUNK = 10_000


def _setup(db: Path, size: int, audit: int) -> dict[str, Any]:
    """Write the state store the pages are measured on."""
    import sqlalchemy as sa
    from idsync.state import Store, now
    from idsync.state import schema as t
    from plan import _setup as steady_state

    started = time.perf_counter()
    steady_state(db, size)
    store = Store(f"sqlite:///{db}")
    _fold_accounts(store)
    from idsync.console import add_user

    add_user(store, "alice", PASSWORD, "approver")
    rng = random.Random(7)
    with store.engine.connect() as conn:
        persons = [row[0] for row in conn.execute(sa.select(t.accounts.c.person))]
        grants = conn.execute(
            sa.select(t.permissions.c.person, t.permissions.c.key, t.permissions.c.reference)
        ).all()
    first_run = 1
    stamp = now() - dt.timedelta(days=400)
    rows: list[dict[str, Any]] = []
    written = 0

    def record(run_id: int, **values: Any) -> None:
        nonlocal written
        rows.append(
            {
                "run_id": run_id,
                "at": stamp,
                "person": None,
                "key": None,
                "reference": None,
                "changes": {},
                "messages": [],
                "dry_run": False,
                "actor": None,
                **values,
            }
        )
        if len(rows) >= _CHUNK:
            flush()

    def flush() -> None:
        nonlocal written
        if rows:
            with store.engine.begin() as conn:
                conn.execute(t.audit.insert(), rows)
            written += len(rows)
            rows.clear()

    # The first run: every account created and enabled, every permission granted.
    for pid in persons:
        record(
            first_run,
            target="helloid",
            person=pid,
            kind="create",
            status="done",
            changes={"userName": {"before": None, "after": f"user{pid}@example.org"}},
            messages=[f"created HelloID user user{pid}@example.org"],
        )
        record(first_run, target="helloid", person=pid, kind="enable", status="done")
    for pid, key, reference in grants:
        record(
            first_run,
            target="helloid",
            person=pid,
            kind="grant",
            status="done",
            key=key,
            reference=reference,
            messages=[f"added to {key}"],
        )
    flush()
    # Later runs: a few thousand actions each, until the trail holds ``audit`` records.
    kinds = ("update", "grant", "revoke", "disable", "enable", "delete", "create")
    run_ids = []
    while written + len(rows) < audit:
        stamp += dt.timedelta(days=1)
        with store.engine.begin() as conn:
            run_id = conn.execute(
                t.runs.insert().values(
                    pipeline="bench",
                    command="run",
                    started=stamp,
                    finished=stamp + dt.timedelta(seconds=rng.randint(20, 400)),
                    as_of=stamp.date(),
                    dry_run=False,
                    status="done",
                    exit_code=0,
                    counts={},
                )
            ).inserted_primary_key[0]
        run_ids.append(run_id)
        counts: dict[str, dict[str, int]] = {}
        for _ in range(min(RUN_SIZE, audit - written - len(rows))):
            kind = rng.choice(kinds)
            status = "failed" if rng.random() < 0.005 else "done"
            counts.setdefault(status, {}).setdefault(kind, 0)
            counts[status][kind] += 1
            pid = rng.choice(persons)
            record(
                run_id,
                target="helloid",
                person=pid,
                kind=kind,
                status=status,
                key=f"group:department_D{rng.randint(1, 80):03d}"
                if kind in ("grant", "revoke")
                else None,
                changes={"userAttributes.title": {"before": "Functie 3", "after": "Functie 9"}}
                if kind == "update"
                else {},
                messages=["HelloID answered 503"] if status == "failed" else [],
            )
        flush()
        with store.engine.begin() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(counts=counts))
    # Held work: decided items with their approver, one open with a thousand actions.
    for n, run_id in enumerate(run_ids[-21:-1]):
        held_id = store.hold(
            run_id=run_id,
            pipeline="bench",
            system="helloid",
            kind="disable",
            reason="disable actions exceed the threshold",
            count=3,
            detail=[{"person": p, "kind": "disable", "reason": "left"} for p in persons[:3]],
        )
        store.decide_held(
            held_id,
            "approved" if n % 3 else "rejected",
            run_id + 1,
            actor="alice",
            comment="checked with HR",
            audit=[
                {"run_id": run_id + 1, "target": "helloid", "kind": "approve", "status": "approved"}
            ],
        )
    last = run_ids[-1]
    held_detail = [
        {"person": p, "kind": "disable", "reason": "last contract ended", "changes": {}}
        for p in rng.sample(persons, 1000)
    ]
    store.hold(
        run_id=last,
        pipeline="bench",
        system="helloid",
        kind="disable",
        reason="1000 disable actions exceed the threshold 10%",
        count=1000,
        detail=held_detail,
    )
    blocked = [
        {"person": p, "field": "contracts.0.department", "problem": "no department"}
        for p in persons[:50]
    ]
    store.save_plan(
        last, {"as_of": today().isoformat(), "actions": [], "held": [], "blocked": blocked}
    )
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(t.audit)).scalar_one()
    store.close()
    return {
        "persons": len(persons),
        "permissions": len(grants),
        "audit": int(total),
        "runs": len(run_ids) + 1,
        "seconds": round(time.perf_counter() - started, 1),
        "db_mb": round(db.stat().st_size / 2**20),
    }


def _fold_accounts(store: Any) -> None:
    """What the store writes with each account it records (the bulk writer leaves it out)."""
    import sqlalchemy as sa
    from idsync.state import schema as t
    from idsync.state.search import folded_values

    a = t.accounts.c
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(a.target, a.person, a.data)).all()
        update = (
            t.accounts.update()
            .where((a.target == sa.bindparam("w_t")) & (a.person == sa.bindparam("w_p")))
            .values(folded_values=sa.bindparam("w_v"))
        )
        values = [{"w_t": r[0], "w_p": r[1], "w_v": folded_values(r[2])} for r in rows]
        for i in range(0, len(values), _CHUNK):
            conn.execute(update, values[i : i + _CHUNK])


def _serve(db: Path) -> None:
    """Serve the console over ``db`` until killed (prints the URL when it listens)."""
    from _pipeline import registry as bench_registry
    from idsync.console import ConsoleSettings, create_app, load_pipelines, serve

    load(db.parent, pipeline_text(f"sqlite:///{db}", size=PERSONS), target_env())
    os.environ.update(target_env())
    registry = bench_registry()
    loaded = load_pipelines([db.parent / "pipeline.yaml"], registry)
    app = create_app(loaded, registry, ConsoleSettings(as_of=today()))
    serve(app, "127.0.0.1", 0, ready=lambda url: print(f"idsync console on {url}", flush=True))


def _sign_in(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the sign-in page"
    answer = client.post(
        "/login", data={"csrf": token.group(1), "name": "alice", "password": PASSWORD}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


def _pages(client: httpx.Client) -> Iterator[tuple[str, str]]:
    """``(what, path)`` of every page measured, with ids read from the pages themselves."""
    runs = client.get("/p/bench/runs").text
    newest = max(int(n) for n in re.findall(r"/p/bench/runs/(\d+)", runs))
    audit = client.get("/p/bench/audit").text
    top = max(int(n) for n in re.findall(r'href="/p/bench/audit\?before=(\d+)', audit) or ["0"])
    held = re.findall(r"/p/bench/held/(\d+)", client.get("/p/bench/held").text)
    person = "100042"
    yield "overview", "/"
    yield "runs", "/p/bench/runs"
    yield "runs, 4th page", f"/p/bench/runs?before={newest - 150}"
    yield "run of 470k actions", "/p/bench/runs/1"
    yield "run, failures only", f"/p/bench/runs/{newest}?status=failed"
    yield "run of 470k, one kind, next page", "/p/bench/runs/1?kind=grant&cursor=o:300000"
    yield "held work", "/p/bench/held"
    yield "held item, 1,000 actions", f"/p/bench/held/{max(int(h) for h in held)}"
    yield "persons: id", "/p/bench/persons?q=10004"
    yield "persons: name", "/p/bench/persons?q=van+der+meer"
    yield "persons: user name", f"/p/bench/persons?q={_user_name(client, person)}"
    yield "persons: nobody", "/p/bench/persons?q=zzzz"
    yield "person", f"/p/bench/persons/{person}"
    yield "audit", "/p/bench/audit"
    yield "audit, page 10,000", f"/p/bench/audit?before={max(1, top - 500_000)}"
    yield "audit: person", f"/p/bench/audit?person={person}"
    yield "audit: failed deletes", "/p/bench/audit?kind=delete&status=failed"
    yield "audit: by alice", "/p/bench/audit?actor=alice"
    yield "audit: a day", "/p/bench/audit?since=2025-11-01&until=2025-11-01"
    yield "audit: text", "/p/bench/audit?q=department_D042"
    yield "audit: text, no match", "/p/bench/audit?q=zzzz"
    yield "audit CSV: person", f"/p/bench/audit.csv?person={person}"


def _user_name(client: httpx.Client, person: str) -> str:
    """The person's HelloID user name, as the person page shows it."""
    page = client.get(f"/p/bench/persons/{person}").text
    found = re.search(r"<th>userName</th><td>([^<]+)</td>", page)
    if not found:
        raise RuntimeError(f"no user name on the page of person {person}")
    return found.group(1)


def _measure(url: str) -> list[dict[str, Any]]:
    out = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=120) as client:
        _sign_in(client)
        for what, path in list(_pages(client)):
            times = []
            size = 0
            for _ in range(REPEAT + 1):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {answer.status_code}")
                size = len(answer.content)
            warm = sorted(times[1:])
            out.append(
                {
                    "page": what,
                    "path": path,
                    "cold_ms": round(times[0], 1),
                    "median_ms": round(statistics.median(warm), 1),
                    "p95_ms": round(warm[int(len(warm) * 0.95) - 1], 1),
                    "max_ms": round(warm[-1], 1),
                    "kb": round(size / 1024, 1),
                }
            )
            print(f"  {what:34} median {out[-1]['median_ms']:7.1f} ms", flush=True)
    return out


def run(work: Path, scale: float = 1.0) -> dict[str, Any]:
    """Set up the state store, serve it, and time every page."""
    started, load = dt.datetime.now(dt.UTC), [round(x, 2) for x in os.getloadavg()]
    size, audit = int(PERSONS * scale), int(AUDIT * scale)
    db = work / "console" / "state.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    for old in db.parent.glob("state.db*"):
        old.unlink()
    setup = child(
        "console", ["--setup", "--db", str(db), "--size", str(size), "--audit", str(audit)], 1800
    )
    print(f"  state: {setup}", flush=True)
    command = [sys.executable, str(BENCH / "console.py"), "--serve", "--db", str(db)]
    with start_server(command, "idsync console on") as line:
        url = line.split("idsync console on ", 1)[1]
        pages = _measure(url)
    return {
        "setup": setup,
        "pages": pages,
        "goal_ms": GOAL_MS,
        "repeat": REPEAT,
        "started": started.isoformat(),
        "load": load,
        "command": "python bench/run.py --only console" + (" --quick" if scale < 1 else ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--size", type=int, default=PERSONS)
    parser.add_argument("--audit", type=int, default=AUDIT)
    args = parser.parse_args()
    log_to(args.db.parent / "idsync.log")
    if args.setup:
        emit(_setup(args.db, args.size, args.audit))
    elif args.serve:
        _serve(args.db)
    else:
        print(json.dumps(run(args.db.parent, args.size / PERSONS), indent=1))


if __name__ == "__main__":
    main()
