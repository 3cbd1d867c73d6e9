"""``bench/RESULTS.md`` from the results of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write"]

PLAN_GOAL_S = 15.0
PLAN_GOAL_MB = 1536.0
ENFORCE_GOAL = 0.7


def _s(value: float) -> str:
    return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ok(good: bool) -> str:
    return "met" if good else "**not met**"


def _actions(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items()))


def _plan(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Plan at scale",
        "",
        "Synthetic persons, two contracts each; one HelloID target with five static permission",
        "rules and one dynamic rule per contract, a unique user name with nine candidates, the",
        "example pipeline's mapping and lifecycle. `first`: an empty state store (every entitled",
        "person gets a create, an enable and grants). `steady`: the state a complete first run",
        "leaves (planning again finds nothing to do: the nightly run).",
        "",
        "`make`: the state store reads plus `make_plan` over persons already in memory (imported",
        "through the engine's importer beforehand). `engine`: the whole `Engine.plan`, import",
        "(validation, hashing, comparison with the snapshot) included; the memory source's own",
        "time (generating the rows) is counted apart as *source*, and out of *import*.",
        "",
        "| persons | scenario | path | time | CPU | of which | source | peak RSS | RSS before | actions |",
        "|---:|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        wall, cpu = r["wall"], r["cpu"]
        took = wall.get("plan_total", wall.get("total", 0.0))
        used = cpu.get("plan_total", cpu.get("total", 0.0))
        if "store_read" in wall:
            store = f"store reads {_s(wall['store_read'])}"
        else:
            store = f"import {_s(wall['import'])}, plan {_s(wall['plan'])}"
        source = _s(wall["source"]) if "source" in wall else "-"
        out.append(
            f"| {_n(r['size'])} | {r['scenario']} | {r['path']} | {_s(took)} | {_s(used)} |"
            f" {store} | {source} | {_mb(r['peak_rss_mb'])} | {_mb(r['rss_before_mb'])} |"
            f" {_actions(r['actions'])} |"
        )
    sizes = sorted({r["size"] for r in results})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        out += [
            "",
            f"Cost against size ({_n(large)} / {_n(small)} persons; {large / small:.0f} means linear):",
            "",
            "| scenario | path | time ratio | CPU ratio |",
            "|---|---|---:|---:|",
        ]
        for scenario in ("first", "steady"):
            for path in ("make", "engine"):
                pair = [
                    r
                    for r in results
                    if r["scenario"] == scenario
                    and r["path"] == path
                    and r["size"] in (small, large)
                ]
                if len(pair) != 2:
                    continue
                a, b = sorted(pair, key=lambda r: r["size"])
                key = "plan_total" if path == "make" else "total"
                out.append(
                    f"| {scenario} | {path} | {b['wall'][key] / a['wall'][key]:.1f} |"
                    f" {b['cpu'][key] / a['cpu'][key]:.1f} |"
                )
        out += ["", f"Goal at {_n(large)} persons: under {PLAN_GOAL_S:.0f} s and under 1.5 GB.", ""]
        out += [
            "| scenario | path | time | peak RSS | time goal | memory goal |",
            "|---|---|---:|---:|---|---|",
        ]
        for r in results:
            if r["size"] != large:
                continue
            key = "plan_total" if r["path"] == "make" else "total"
            took = r["wall"][key]
            out.append(
                f"| {r['scenario']} | {r['path']} | {_s(took)} | {_mb(r['peak_rss_mb'])} |"
                f" {_ok(took < PLAN_GOAL_S)} | {_ok(r['peak_rss_mb'] < PLAN_GOAL_MB)} |"
            )
    return [*out, ""]


def _import(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Import at scale",
        "",
        "The AFAS simulator (a process of its own, a generated organisation) read over HTTP on",
        "127.0.0.1 through the AFAS plugin: organisational units, employments and positions, then",
        "the Users connector page by page (`take` as shown), every person validated (by the",
        "plugin, which names the AFAS field of a problem), hashed and compared with the last",
        "snapshot. *source*: time inside the plugin (HTTP, JSON, joining the connectors,",
        "validating); *engine*: the rest. `first`: an empty state store;",
        "`repeat`: the snapshot of the first is stored and nothing changed.",
        "",
        "| scenario | persons | blocked | rows | requests | take | time | persons/s | rows/s | source | engine | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        wall = r["wall"]
        out.append(
            f"| {r['scenario']} | {_n(r['persons'])} | {_n(r['blocked'])} | {_n(r['rows'])} |"
            f" {_n(r['requests'])} | {_n(r['page_size'])} | {_s(wall['import'])} |"
            f" {_n(r['persons_per_s'])} | {_n(r['rows_per_s'])} | {_s(wall['source'])} |"
            f" {_s(wall['engine'])} | {_mb(r['peak_rss_mb'])} |"
        )
    return [*out, ""]


def _enforce(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Enforce near the limit",
        "",
        "Joiners against the HelloID simulator (a process of its own) adding 50 ms to every",
        "request: per person a create (`GET /users/{userName}` to correlate, then `POST /users`)",
        "and three group grants (`POST /users/{id}/groups`; the group itself is read once, the",
        "first time it is granted). A real `Engine.run`; every action recorded as it finishes.",
        "The bound is `concurrency / 50 ms` requests per second (or the simulator's rate limit",
        "when lower); requests per action come from the simulator's own request log (answers",
        "429 left out: they did nothing and are sent again), so the bound in actions per second",
        "is the request bound divided by them. At concurrency 1 and 8 a proportional sample",
        "(the ratio does not depend on the count).",
        "",
        "| case | concurrency | creates + grants | time | actions/s | requests/action | requests/s | bound (req/s) | bound (actions/s) | ratio | 429s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        done = r["done"]
        what = f"{_n(done.get('create', 0))} + {_n(done.get('grant', 0))}"
        failed = sum(r["failed"].values())
        if failed:
            what += f" ({failed} failed)"
        out.append(
            f"| {r['case']} | {r['concurrency']} | {what} | {_s(r['wall']['enforce'])} |"
            f" {r['actions_per_s']:.1f} | {r['requests_per_action']:.2f} |"
            f" {r['requests_per_s']:.1f} | {r['bound_requests_per_s']:.0f} |"
            f" {r['bound_actions_per_s']:.1f} | {r['ratio']:.2f} | {r['http']['throttled']} |"
        )
    full = [r for r in results if r["case"] == "c32"]
    if full:
        r = full[0]
        out += [
            "",
            f"Goal at concurrency 32: at least {ENFORCE_GOAL} of the bound: {r['ratio']:.2f},"
            f" {_ok(r['ratio'] >= ENFORCE_GOAL)}.",
            "",
            "Requests of the concurrency-32 case, by endpoint and status:",
            "",
            "| request | count |",
            "|---|---:|",
        ]
        out += [f"| `{k}` | {_n(v)} |" for k, v in r["http"]["by_endpoint"].items()]
    limited = [r for r in results if r.get("server_limit")]
    if limited:
        out += [
            "",
            "Under a rate limit (the simulator answers 429 with `Retry-After` above it): with the",
            "limit unknown to the plugin, and with it set as the plugin's `rate_limit`. Goal: no",
            "429 once the limit is known.",
            "",
        ]
        for r in limited:
            known = "known" if r.get("client_limit") else "unknown"
            out.append(
                f"- limit {r['server_limit']:.0f} req/s, {known}: {r['http']['throttled']} answers 429 of"
                f" {_n(r['http']['requests'])} requests; {r['requests_per_s']:.0f} requests/s done"
                f" ({r['ratio']:.2f} of the limit), {r['actions_per_s']:.0f} actions/s."
            )
    return [*out, ""]


def _noop(r: dict[str, Any]) -> list[str]:
    rows = []
    for label, run in (("as it is", r), ("+50 ms per request", r.get("remote"))):
        if run is None:
            continue
        wall = run["wall"]
        share = wall["source"] / wall["run"] if wall["run"] else 0.0
        rows.append(
            f"| {label} | {_n(run['persons'])} | {run['actions']} |"
            f" {run['helloid']['requests']} | {run['afas_requests']} | {r['afas_writes']} |"
            f" {_s(wall['run'])} | {_s(wall['source'])} | {_s(wall['engine'])} | {share:.0%} |"
            f" {_mb(run['peak_rss_mb'])} |"
        )
    return [
        "## No-op re-run",
        "",
        "The second run (a real `Engine.run`, not a dry run) over an unchanged organisation from",
        "the AFAS simulator; the state store holds what a complete first run left. *source*: time",
        "inside the AFAS plugin (HTTP, JSON, joining the connectors, validating the persons);",
        "*engine*: hashing, the comparison with the snapshot, planning, the run's bookkeeping.",
        "Measured with the AFAS simulator as it is (on this machine) and with 50 ms added to",
        "each of its answers (the latency the enforce benchmark gives the target).",
        "",
        "| AFAS | persons | actions | requests to HelloID | requests to AFAS | writes to AFAS (all runs) | run | source | engine | source share | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "The engine's part, step by step (the first row): "
        + ", ".join(f"{name} {_s(seconds)}" for name, seconds in r["steps"].items())
        + " (*rest*: the snapshot, the plan and the run recorded, the lock, the enforcer's set-up).",
        "",
        "Zero write requests: "
        + _ok(
            r["afas_writes"] == 0
            and all(run["helloid"]["writes"] == 0 for run in (r, r.get("remote") or r))
        )
        + ".",
        "",
    ]


def _joiners_scim(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Joiners against a real SCIM server",
        "",
        "`bench/joiners_scim.py`: every person a joiner starting today (create, enable, one",
        "department group), against scim2-server in a process of its own; the 80 department",
        "groups are made as resources in the same run. Requests counted from the server's",
        "access log.",
        "",
        "| concurrency | joiners | time | joiners/s | requests/joiner | writes/joiner | requests/s | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        out.append(
            f"| {r['concurrency']} | {_n(r['joiners'])} | {_s(r['wall']['enforce'])} |"
            f" {r['joiners_per_s']:.1f} | {r['requests_per_joiner']:.2f} |"
            f" {r['writes_per_joiner']:.2f} | {r['requests_per_s']:.0f} |"
            f" {_actions(r['failed'])} |"
        )
    last = results[-1]
    out += ["", f"Requests by endpoint at concurrency {last['concurrency']}:", ""]
    out += ["| request | count |", "|---|---:|"]
    out += [f"| `{k}` | {_n(v)} |" for k, v in last["http"]["by_endpoint"].items()]
    return [*out, ""]


def _joiners(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Joiners against HelloID",
        "",
        "`bench/joiners.py`: 2,000 persons starting today, each created enabled and added to its",
        "department group, against the HelloID simulator with 50 ms added to every request.",
        "Requests counted from the simulator's log, the plan's reads included; the share of the",
        "bound is the requests per second reached over concurrency / latency (targets: at most 3",
        "requests per joiner, a share of at least 0.8).",
        "",
        "| engine | concurrency | joiners | time | joiners/s | requests/joiner | requests/s | bound | share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['engine']} | {r['concurrency']} | {_n(r['joiners'])} |"
            f" {_s(r['wall']['enforce'])} | {r['joiners_per_s']:.1f} |"
            f" {r['requests_per_joiner']:.2f} {_ok(r['requests_per_joiner'] <= 3)} |"
            f" {r['requests_per_s']:.0f} | {r['bound_requests_per_s']:.0f} |"
            f" {r['ratio']:.2f} {_ok(r['ratio'] >= 0.8)} |"
        )
    return [*out, ""]


def _console(r: dict[str, Any]) -> list[str]:
    setup = r["setup"]
    goal = r["goal_ms"]
    out = [
        "## The web console",
        "",
        f"`idsync serve`'s application over a state store of {_n(setup['persons'])} persons"
        f" with accounts, {_n(setup['permissions'])} permissions, {_n(setup['audit'])} audit"
        f" records in {_n(setup['runs'])} runs and held work ({_n(setup['db_mb'])} MB of SQLite,"
        f" written in {_s(setup['seconds'])}), in a process of its own; a signed-in client on"
        f" 127.0.0.1 asks each page once (*cold*) and {r['repeat']} times more. Goal: every page"
        f" answers under {goal:.0f} ms (its 95th percentile).",
        "",
        *(
            [
                f"Measured {r['started'][:19].replace('T', ' ')} UTC with `{r['command']}`;"
                f" load average at the start {r['load']}.",
                "",
            ]
            if "started" in r
            else []
        ),
        "| page | cold | median | 95th percentile | worst | size | goal |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for p in r["pages"]:
        out.append(
            f"| {p['page']} (`{p['path']}`) | {p['cold_ms']:.0f} ms | {p['median_ms']:.0f} ms"
            f" | {p['p95_ms']:.0f} ms | {p['max_ms']:.0f} ms | {p['kb']:.0f} kB"
            f" | {_ok(p['p95_ms'] < goal)} |"
        )
    return [*out, ""]


def _joiners_ldap(results: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Joiners into OpenLDAP",
        "",
        "Joiners created in a real slapd (127.0.0.1, its own process) by the `ldap` plugin, each",
        "granted three `groupOfNames` groups: correlate (search), the unique `uid` checked",
        "(search), the add, its `entryUUID` read back (search), and one modify per group.",
        "Requests are slapd's own count of the operations it completed (`cn=Monitor`).",
        "",
        "| concurrency | joiners | time | joiners/s | requests/joiner | requests/s | engine CPU/joiner | by kind | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        kinds = ", ".join(f"{k} {_n(v)}" for k, v in r["requests"].items() if v)
        out.append(
            f"| {r['concurrency']} | {_n(r['done'].get('create', 0))} | {_s(r['seconds'])} |"
            f" {r['joiners_per_s']:.1f} | {r['requests_per_joiner']:.2f} |"
            f" {r['requests_per_s']:.0f} | {r['cpu_ms_per_joiner']:.1f} ms | {kinds} |"
            f" {sum(r['failed'].values())} |"
        )
    return [*out, ""]


def _fleet(r: dict[str, Any]) -> list[str]:
    killed = r["killed"]
    whole = r["fleet"]
    return [
        "## A fleet of pipelines",
        "",
        f"{_n(r['pipelines'])} pipelines of {_n(r['persons'])} persons (AFAS → HelloID, HelloID",
        f"answering each request after {r['latency'] * 1000:.0f} ms), added at once to a fleet on",
        f"PostgreSQL with {r['workers']} workers and a control worker running, every pipeline's",
        "state in the fleet's database (a schema each); the time until every run finished.",
        "*Ideal*: pipelines × one plain run alone / workers (perfect packing, no contention).",
        f"One run takes {r['run_cpu']:.1f} CPU-seconds (the run in a warm process and the",
        f"simulators' share): on {r['cores']} cores no scheduler finishes faster than pipelines ×",
        "that / cores (*CPU bound*); *ideal here* is the larger of the two. Killed: one worker gets",
        "`kill -9` once a third of the runs are done; its ideal is the time of the kill plus the",
        "runs left then on one worker fewer. Smaller than the goal's 200 pipelines of 2,000",
        "persons, to fit this machine.",
        "",
        "| scenario | one run alone | ideal | CPU bound | fleet | fleet / ideal here | cores used"
        " | load | goal (≤ 1.15) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| all workers | {_s(r['single_run'])} | {_s(r['ideal'])} | {_s(r['cpu_bound'])} |"
        f" {_s(whole['seconds'])} | {r['fleet_ratio_here']:.2f} | {whole['cores_used']:.2f} |"
        f" {whole['load']:.1f} | {_ok(r['fleet_ratio_here'] <= 1.15)} |",
        f"| one killed at {_s(killed['killed_at'] or 0)} | {_s(r['single_run'])} |"
        f" {_s(r['ideal_killed_here'])} | | {_s(killed['seconds'])} | {r['killed_ratio_here']:.2f} |"
        f" {killed['cores_used']:.2f} | {killed['load']:.1f} |"
        f" {_ok(r['killed_ratio_here'] <= 1.15)} |",
        "",
    ]


def write(results: dict[str, Any], path: Path) -> None:
    """Write the Markdown report of ``results`` to ``path``."""
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py`; the figures are explained in `docs/performance.md`.",
        "",
        f"- Command: `{results['command']}` (`.venv/bin/python bench/run.py`)",
        f"- Date: {results['started'][:19].replace('T', ' ')} UTC, {results['seconds']:.0f} s in all",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']},"
        f" {m['platform']}",
        f"- Load average (1, 5, 15 min) at the start {m['load']}, at the end {m['load_after']}"
        " (other work on the machine slows the wall-clock figures; CPU times are this process's own)",
        "",
    ]
    if "plan" in results:
        lines += _plan(results["plan"])
    if "import" in results:
        lines += _import(results["import"])
    if "enforce" in results:
        lines += _enforce(results["enforce"])
    if "noop" in results:
        lines += _noop(results["noop"])
    if "joiners" in results:
        lines += _joiners(results["joiners"])
    if "joiners-scim" in results:
        lines += _joiners_scim(results["joiners-scim"])
    if "console" in results:
        lines += _console(results["console"])
    if "joiners_ldap" in results:
        lines += _joiners_ldap(results["joiners_ldap"])
    if "fleet" in results:
        lines += _fleet(results["fleet"])
    path.write_text("\n".join(lines), encoding="utf-8")
