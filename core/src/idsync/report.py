"""Human-readable output: plans, run results, problems and audit records as rich tables.

Shared by the ``idsync`` commands and the demo, so both speak the same way.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from idsync.config import TRANSITIONS
from idsync.engine import Progress as EngineProgress
from idsync.engine import RunReport
from idsync.model import ActionStatus
from idsync.plan import Action, Plan
from idsync.secrets import redact

if TYPE_CHECKING:
    from idsync.reconcile import ReconcileReport

__all__ = [
    "describe_action",
    "local_time",
    "local_zone",
    "print_audit",
    "print_plan",
    "print_problems",
    "print_reconcile",
    "print_run",
    "progress_bars",
]

_COLORS = {
    "failed": "red",
    "held": "yellow",
    "blocked": "magenta",
    "done": "green",
    "dry-run": "cyan",
    "skipped": "dim",
}


class _Bars(EngineProgress):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def reading(self, source: str) -> Callable[[int], None]:
        task = self.progress.add_task(f"reading {source}: persons", total=None)
        return lambda n: self.progress.advance(task, n)

    def enforcing(self, target: str, total: int) -> Callable[[Action, ActionStatus], None]:
        task = self.progress.add_task(f"enforcing {target}: actions", total=total)

        done = itertools.count(1)

        def advance(_action: Action, _status: ActionStatus) -> None:
            # The enforcer tells each planned action once; never past the total all the same.
            if next(done) <= total:
                self.progress.advance(task)

        return advance


@contextmanager
def progress_bars(console: Console, enabled: bool = True) -> Iterator[EngineProgress]:
    """Progress bars for reading sources and enforcing targets (none when not ``enabled``)."""
    if not enabled:
        yield EngineProgress()
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bars:
        yield _Bars(bars)


def local_time(value: dt.datetime | None) -> str:
    """A stored moment (UTC) as the local date and time: ``2026-01-15 10:04:31``."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def local_zone() -> str:
    """The local time zone as people read it: ``CET, UTC+01:00``."""
    here = dt.datetime.now().astimezone()
    offset = here.strftime("%z")
    return f"{here.tzname()}, UTC{offset[:3]}:{offset[3:]}" if here.tzname() != "UTC" else "UTC"


def describe_action(action: Action) -> str:
    """What an action changes, in a few words: the permission, or the changed attributes."""
    if action.key:
        return action.key
    parts = []
    for key, change in list(action.changes.items())[:4]:
        before = "" if change.before is None else f"{change.before} → "
        parts.append(f"{key}: {before}{change.after}")
    if len(action.changes) > 4:
        parts.append(f"+{len(action.changes) - 4} more")
    return redact(", ".join(parts))


def print_plan(console: Console, plan: Plan, limit: int = 50) -> None:
    """Per target: the persons per transition and the actions per kind (what a threshold
    holds marked), then the first actions."""
    for name, target in plan.targets.items():
        counts = target.counts()
        changes = target.transition_counts()
        held_persons = Counter(
            str(target.transitions[p]) for p in target.held if p in target.transitions
        )
        held_kinds = Counter(a.kind.value for a in target.actions if target.hold_of(a) is not None)
        console.print(f"[bold]plan for {escape(name)}[/] (as of {plan.as_of})", highlight=False)
        summary = Table(show_edge=False)
        summary.add_column("transition")
        summary.add_column("persons", justify="right")
        summary.add_column("")
        summary.add_column("action")
        summary.add_column("count", justify="right")
        summary.add_column("")
        left = [(t, n, held_persons.get(t, 0)) for t, n in sorted(changes.items(), key=_in_order)]
        right = [(k, n, held_kinds.get(k, 0)) for k, n in sorted(counts.items())]
        for i in range(max(len(left), len(right))):
            row: list[str] = []
            for side in (left, right):
                if i < len(side):
                    what, n, held = side[i]
                    row += [what, str(n), _held(held, n)]
                else:
                    row += ["", "", ""]
            summary.add_row(*row)
        if not counts:
            summary.add_row("[dim]nothing to do[/]", "", "", "", "", "")
        console.print(summary)
        if target.actions and limit:
            detail = Table(show_edge=False, box=None, padding=(0, 1))
            for column in ("person", "transition", "action", "what", "why"):
                detail.add_column(column, overflow="fold")
            for action in target.actions[:limit]:
                detail.add_row(  # source data, not markup: "[sales]" shows as it is
                    escape(action.person or ""),
                    action.transition or "",
                    action.kind.value + (" [yellow](held)[/]" if target.hold_of(action) else ""),
                    escape(describe_action(action)),
                    escape(action.reason),
                )
            console.print(detail)
            if len(target.actions) > limit:
                console.print(f"  [dim]… and {len(target.actions) - limit} more[/]")


_TRANSITION_ORDER: dict[str, int] = {t: i for i, t in enumerate(TRANSITIONS)}


def _in_order(item: tuple[str, int]) -> int:
    return _TRANSITION_ORDER.get(item[0], len(_TRANSITION_ORDER))


def _held(held: int, of: int) -> str:
    if not held:
        return ""
    return "[yellow]held[/]" if held == of else f"[yellow]{held} held[/]"


def print_run(console: Console, report: RunReport, title: str | None = None) -> None:
    """A table of the run's actions: one row per kind, one column per outcome."""
    console.print(f"[bold]{escape(title or f'run {report.run_id}')}[/]", highlight=False)
    table = Table(show_edge=False)
    table.add_column("action")
    statuses = [s.value for s in ActionStatus if report.count(s.value)]
    for status in statuses:
        table.add_column(f"[{_COLORS.get(status, 'white')}]{status}[/]", justify="right")
    kinds = sorted({k for _, k in report.counts})
    for kind in kinds:
        table.add_row(kind, *[str(report.counts.get((s, kind), 0) or "") for s in statuses])
    if not kinds:
        table.add_row("[dim]nothing to do[/]")
    console.print(table)
    for trip in report.breakers:
        console.print(f"[bold red]stopped[/] {escape(trip.message)}", highlight=False)


def print_problems(
    console: Console, report: RunReport, limit: int = 10, errors: Console | None = None
) -> None:
    """The run's error (on ``errors``, standard error for the command), held work and
    blocked persons."""
    if report.error:
        (errors or console).print(
            f"[bold red]error:[/] {escape(redact(report.error))}", highlight=False
        )
    for hold in report.held:
        console.print(
            f"[yellow]held[/] {escape(hold.system)} {hold.kind}: {escape(hold.reason)}",
            highlight=False,
        )
    for scope, label in (
        ("person", "person(s) blocked"),
        ("manager", "manager link(s) left out"),
        ("action", "action(s) waiting for someone outside idsync"),
    ):
        shown = [b for b in report.blocked if b.scope == scope]
        if not shown:
            continue
        console.print(f"[yellow]{len(shown)} {label}[/]:")
        for blocked in shown[:limit]:
            console.print(f"  {escape(redact(str(blocked)))}", highlight=False)
        if len(shown) > limit:
            console.print(f"  [dim]… and {len(shown) - limit} more[/]")


def print_audit(
    console: Console, records: list[dict[str, Any]], title: str = "audit trail"
) -> None:
    """Audit records as a table, newest first."""
    console.print(f"[bold]{escape(title)}[/] (times in {local_zone()})", highlight=False)
    table = Table(show_edge=False)
    for column in ("run", "when", "target", "person", "action", "status", "what", "note"):
        table.add_column(column, overflow="fold")
    for r in records:
        changes = r["changes"] or {}
        what = r["key"] or ", ".join(
            f"{k.lstrip('@')}: {v.get('before')} → {v.get('after')}"
            if v.get("before") is not None
            else f"{k.lstrip('@')}: {v.get('after')}"
            for k, v in list(changes.items())[:3]
        )
        status = r["status"]
        note = "; ".join(r["messages"] or [])
        table.add_row(
            str(r["run_id"]),
            local_time(r["at"]),
            escape(r["target"]),
            escape(r["person"] or ""),
            r["kind"],
            f"[{_COLORS.get(status, 'white')}]{status}[/]",
            escape(redact(what)),
            escape(redact(note if len(note) <= 80 else note[:77] + "…")),
        )
    console.print(table)


# --- reconcile ----------------------------------------------------------------------------


def _findings_table(title: str, columns: list[str], rows: list[list[str]], limit: int) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, box=None, padding=(0, 1))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows[:limit]:
        table.add_row(*(escape(redact(str(c))) for c in row))
    if len(rows) > limit:
        table.add_row(f"[dim]… and {len(rows) - limit} more (--limit N)[/]")
    return table


def _onoff(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "?")


def print_reconcile(console: Console, report: ReconcileReport, limit: int = 50) -> None:
    """Findings per target as tables, then the fixes' outcome."""
    for name, f in report.targets.items():
        found = {
            "unmatched": f.unmatched,
            "excluded": f.excluded,
            "unlinked": f.unlinked,
            "disputed": f.disputed,
            "drifted": f.drift,
            "missing": f.missing,
        }
        if f.error:
            # Nothing was compared: no counts, and never "all in order".
            console.print(
                f"[bold]{escape(name)}[/] (as of {report.as_of}): [red]not reconciled[/]",
                highlight=False,
            )
            console.print(f"  [red]error:[/] {escape(f.error)}", highlight=False)
        else:
            summary = ", ".join(f"{len(v)} {k}" for k, v in found.items() if v) or "all in order"
            console.print(
                f"[bold]{escape(name)}[/] (as of {report.as_of}): {f.accounts} accounts, "
                f"{f.linked} linked; {summary}",
                highlight=False,
            )
        if f.unmatched:
            rows = [
                [
                    u["reference"],
                    u["label"],
                    _onoff(u["enabled"]),
                    ", ".join(u["permissions"]),
                    f"exclusion expired {u['expired']}" if u.get("expired") else "",
                ]
                for u in f.unmatched
            ]
            cols = ["reference", "account", "enabled", "permissions", ""]
            console.print(_findings_table("unmatched (orphans)", cols, rows, limit))
        if f.excluded:
            rows = [
                [u["reference"], u["label"], _onoff(u["enabled"]), u["until"], u["reason"] or ""]
                for u in f.excluded
            ]
            cols = ["reference", "account", "enabled", "until", "reason"]
            console.print(_findings_table("excluded", cols, rows, limit))
        if f.unlinked:
            rows = [
                [
                    u["reference"],
                    u["label"],
                    f"{u['name'] or ''} ({u['person']})",
                    "yes" if u["entitled"] else "no",
                ]
                for u in f.unlinked
            ]
            console.print(
                _findings_table(
                    "unlinked", ["reference", "account", "person", "entitled"], rows, limit
                )
            )
        if f.disputed:
            rows = [
                [d["reference"], d["label"], ", ".join(d["persons"]), d["reason"]]
                for d in f.disputed
            ]
            console.print(
                _findings_table("disputed", ["reference", "account", "persons", "why"], rows, limit)
            )
        if f.drift:
            rows = []
            for d in f.drift:
                parts = [
                    f"{k}: {v['applied']!r} → {v['actual']!r}"
                    for k, v in d.get("attributes", {}).items()
                ]
                if "enabled" in d:
                    parts.append(
                        f"enabled: {_onoff(d['enabled']['applied'])} → {_onoff(d['enabled']['actual'])}"
                    )
                parts += [f"lost {k}" for k in d.get("missing", [])]
                parts += [f"gained {k}" for k in d.get("extra", [])]
                rows.append([f"{d['name'] or ''} ({d['person']})", d["label"], "; ".join(parts)])
            console.print(
                _findings_table(
                    "drift (applied → actual)", ["person", "account", "what"], rows, limit
                )
            )
        if f.missing:
            rows = [[f"{m['name'] or ''} ({m['person']})", m["reference"]] for m in f.missing]
            console.print(
                _findings_table(
                    "missing (linked, gone from the target)", ["person", "reference"], rows, limit
                )
            )
        for note in f.notes:
            console.print(f"  [dim]{escape(note)}[/]", highlight=False)
    if report.run_id is not None:
        outcome = report.nested_counts()
        parts = [
            f"{n} {kind} {status}"
            for status, kinds in sorted(outcome.items())
            for kind, n in sorted(kinds.items())
        ]
        console.print(
            f"fixes (run {report.run_id}): {', '.join(parts) or 'nothing to do'}", highlight=False
        )
    for hold in report.held:
        console.print(
            f"[yellow]held[/] {escape(hold.system)} {hold.kind}: {escape(hold.reason)}",
            highlight=False,
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if report.error:
        console.print(f"[bold red]error:[/] {escape(redact(report.error))}", highlight=False)
