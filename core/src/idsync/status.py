"""``idsync status``: the last runs and the health of every connector, for humans and monitors.

Runs come from the state store: when each started, how long it took, how many of each action
it did, what failed and what its thresholds held. The health of a connector is its plugin's
``idsync_check_connection`` answer (read-only), asked of every source and target at once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync.engine import Engine
from idsync.jsondoc import timestamp
from idsync.model import HookContext
from idsync.secrets import redact, redact_data

__all__ = ["check_connectors", "print_status", "status_view"]


def _seconds(started: Any, finished: Any) -> float | None:
    if isinstance(started, dt.datetime) and isinstance(finished, dt.datetime):
        return round((finished - started).total_seconds(), 3)
    return None


def _iso(value: Any) -> str | None:
    result: str | None = timestamp(value)
    return result


def check_connectors(engine: Engine) -> list[dict[str, Any]]:
    """Every configured source and target's connection test, run concurrently."""
    pipeline = engine.pipeline
    systems: list[tuple[str, str, str, bool]] = [
        (name, "source", cfg.plugin, cfg.enabled) for name, cfg in pipeline.sources.items()
    ] + [(name, "target", cfg.plugin, cfg.enabled) for name, cfg in pipeline.targets.items()]

    def check(entry: tuple[str, str, str, bool]) -> dict[str, Any]:
        name, role, plugin, enabled = entry
        out: dict[str, Any] = {"name": name, "role": role, "plugin": plugin}
        if not enabled:
            return {**out, "ok": None, "message": "disabled in the pipeline", "seconds": None}
        started = time.monotonic()
        try:
            system = engine.system(name)
            if not system.implements("idsync_check_connection"):
                return {**out, "ok": None, "message": "no connection test", "seconds": None}
            ctx = HookContext(system=name, dry_run=True, settings=system.settings)
            result = system.hook.idsync_check_connection(ctx=ctx)
        except Exception as exc:
            ok, message = False, f"{type(exc).__name__}: {exc}"
        else:
            ok = result is None or bool(result.success)
            message = "; ".join(result.messages) if result else "no connection test"
        seconds = round(time.monotonic() - started, 3)
        return {**out, "ok": ok, "message": redact(message), "seconds": seconds}

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(systems)))) as pool:
        return list(pool.map(check, systems))


def _run_row(run: Mapping[str, Any], held: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = run.get("counts") or {}
    return {
        "id": run["id"],
        "command": run["command"],
        "started": _iso(run["started"]),
        "finished": _iso(run["finished"]),
        "seconds": _seconds(run["started"], run["finished"]),
        "as_of": _iso(run["as_of"]),
        "dry_run": bool(run["dry_run"]),
        "status": run["status"],
        "exit_code": run["exit_code"],
        "done": counts.get("dry-run" if run["dry_run"] else "done", {}),
        "failed": sum(counts.get("failed", {}).values()),
        "counts": counts,
        "held": [
            {
                "id": h["id"],
                "system": h["system"],
                "kind": h["kind"],
                "count": h["count"],
                "status": h["status"],
            }
            for h in held
            if h["run_id"] == run["id"]
        ],
    }


def status_view(engine: Engine, runs: int = 10, connect: bool = True) -> dict[str, Any]:
    """The pipeline's last ``runs`` runs, open held work, the runner holding the lock (if a
    run is going on now) and, with ``connect``, each connector's health."""
    store = engine.store
    label = engine.pipeline.label
    recent = store.runs(label, limit=runs)
    held = store.held_in_runs([r["id"] for r in recent])
    open_items = store.held(label, status="held")
    owner = store.lock_owner(engine.lock)
    last_ok = next(
        (r for r in store.runs(label, limit=200) if r["exit_code"] == 0 and not r["dry_run"]),
        None,
    )
    view: dict[str, Any] = {
        "pipeline": label,
        "running": owner,
        "last_success": _iso(last_ok["started"]) if last_ok else None,
        "runs": [_run_row(r, held) for r in recent],
        "open_held": [
            {
                "id": h["id"],
                "system": h["system"],
                "kind": h["kind"],
                "count": h["count"],
                "reason": h["reason"],
                "since": _iso(h["created"]),
            }
            for h in open_items
        ],
        "connectors": check_connectors(engine) if connect else [],
    }
    healthy = all(c["ok"] is not False for c in view["connectors"])
    last = view["runs"][0] if view["runs"] else None
    view["healthy"] = healthy and not (last and last["status"] in ("failed", "crashed"))
    result: dict[str, Any] = redact_data(view)
    return result


def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def print_status(console: Console, view: dict[str, Any]) -> None:
    """The status view as rich tables."""
    running = f", [cyan]running now[/] ({escape(view['running'])})" if view["running"] else ""
    last = _when(view["last_success"]) or "never"
    console.print(
        f"[bold]{escape(view['pipeline'])}[/]: last successful run {last}{running}",
        highlight=False,
    )
    runs = Table(title="last runs", title_justify="left", show_edge=False)
    for column in ("run", "started", "took", "command", "status"):
        runs.add_column(column, no_wrap=True)
    for column in ("done", "failed", "held"):
        runs.add_column(column, overflow="fold")
    colors = {"done": "green", "failed": "red", "crashed": "red", "held": "yellow"}
    for r in view["runs"]:
        done = ", ".join(f"{n} {k}" for k, n in sorted(r["done"].items())) or "-"
        held = ", ".join(f"#{h['id']} {h['system']} {h['kind']}" for h in r["held"]) or ""
        took = f"{r['seconds']:.1f}s" if r["seconds"] is not None else ""
        status = r["status"] + (" dry-run" if r["dry_run"] else "")
        runs.add_row(
            str(r["id"]),
            _when(r["started"])[:16],
            took,
            r["command"],
            f"[{colors.get(r['status'], 'white')}]{escape(status)}[/]",
            escape(done),
            str(r["failed"] or ""),
            escape(held),
        )
    if not view["runs"]:
        runs.add_row("[dim]no runs yet[/]")
    console.print(runs)
    for item in view["open_held"]:
        console.print(
            f"[yellow]held #{item['id']}[/] {escape(item['system'])} {escape(item['kind'])}: "
            f"{escape(item['reason'])} (since {_when(item['since'])})",
            highlight=False,
        )
    if view["connectors"]:
        table = Table(title="connectors", title_justify="left", show_edge=False)
        for column in ("system", "role", "plugin", "health", "took", "message"):
            table.add_column(column, overflow="fold")
        for c in view["connectors"]:
            mark = {True: "[green]ok[/]", False: "[red]failing[/]"}.get(c["ok"], "[dim]-[/]")
            took = f"{c['seconds']:.2f}s" if c["seconds"] is not None else ""
            table.add_row(
                escape(c["name"]), c["role"], escape(c["plugin"]), mark, took, escape(c["message"])
            )
        console.print(table)
