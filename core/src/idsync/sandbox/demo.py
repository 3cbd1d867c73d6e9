"""``idsync demo``: the whole lifecycle story on the sandbox, start to finish, in a few minutes.

It starts the simulators with a seeded organisation, then runs the example pipeline through
the same engine and tables as ``idsync run``: check, plan, a first run, an idle re-run, time
travel (joiners, movers, leavers, and later deletes), a threshold holding a mass change after
HR loses a department, and the audit trail of one person. The state file stays behind in the
working directory for ``idsync audit`` and ``idsync person``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table

from idsync.config import load_pipeline
from idsync.engine import EXIT_HELD, Engine, RunReport
from idsync.model import HookContext
from idsync.plugins import Registry
from idsync.report import print_audit, print_plan, print_problems, print_run, progress_bars
from idsync.sandbox.runner import Sandbox

__all__ = ["Story", "run_demo"]


@dataclass
class Story:
    """What happened during the demo, for its summary (and for the test that checks it)."""

    runs: list[tuple[str, dt.date, RunReport]] = field(default_factory=list)
    writes: dict[str, int] = field(default_factory=dict)
    followed: str | None = None
    state: Path | None = None
    exit_code: int = 0

    def totals(self) -> Counter[str]:
        """Done actions by kind over every run."""
        out: Counter[str] = Counter()
        for _, _, report in self.runs:
            for (status, kind), n in report.counts.items():
                if status == "done":
                    out[kind] += n
        return out


@contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    path.mkdir(parents=True, exist_ok=True)
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _rule_width(console: Console) -> int:
    """A rule spans the terminal, but not the unwrapped width of output that is no terminal."""
    return min(console.width, 120)


def _step(console: Console, number: int, title: str, text: str) -> None:
    console.print()
    console.print(Rule(f"[bold]{number}. {title}[/]", align="left"), width=_rule_width(console))
    console.print(text, highlight=False)


def _writes(sandbox: Sandbox) -> dict[str, int]:
    return {name: len(app.app.log.writes()) for name, app in sandbox.apps.items()}


def _movers(report: RunReport) -> list[str]:
    """The persons whose department group was switched in this run."""
    if report.plan is None:
        return []
    actions = list(report.plan.actions())
    revoked = {
        a.person for a in actions if a.kind.value == "revoke" and a.key and "department" in a.key
    }
    granted = {
        a.person for a in actions if a.kind.value == "grant" and a.key and "department" in a.key
    }
    return sorted(p for p in revoked & granted if p)


def run_demo(
    pipeline: Path,
    workdir: Path,
    *,
    size: int = 400,
    seed: int = 7,
    console: Console | None = None,
    sandbox: Sandbox | None = None,
) -> Story:
    """Tell the story; returns what happened. ``pipeline`` must be the AFAS → HelloID example.

    With ``sandbox`` (already started) the story runs on it and leaves it running, so a test
    can compare the outcome with the simulators' data.
    """
    console = console or Console()
    story = Story()
    pipeline = pipeline.resolve()
    today = dt.date.today()
    started = time.monotonic()
    console.print(
        Panel.fit(
            "[bold]idsync demo[/]: an HR system, a service desk and an identity directory — "
            "simulated on 127.0.0.1 — and one pipeline keeping them in step.",
            border_style="blue",
        )
    )
    owned = sandbox is None
    if sandbox is None:
        with console.status(f"Starting the sandbox: {size} employees, seed {seed}…"):
            sandbox = Sandbox(size=size, seed=seed, today=today).start()
    try:
        os.environ.update(sandbox.env)
        world = sandbox.world
        today = world.today
        table = Table(show_edge=False, title="the sandbox")
        table.add_column("system")
        table.add_column("URL")
        table.add_column("contents")
        for name, app in sandbox.apps.items():
            table.add_row(name, sandbox.urls.get(name, ""), app.summary)
        console.print(table)

        with _working_dir(workdir):
            for leftover in Path().glob("idsync.db*"):
                leftover.unlink()
            registry = Registry()
            config = load_pipeline(pipeline, registry)
            engine = Engine(config, registry)
            story.state = Path("idsync.db").resolve()
            try:
                _tell(console, story, sandbox, engine, today, world.departments)
            finally:
                engine.close()
    finally:
        if owned:
            sandbox.stop()
    _summary(console, story, time.monotonic() - started, pipeline, workdir)
    return story


def _run(
    console: Console, story: Story, engine: Engine, label: str, as_of: dt.date, **options: Any
) -> RunReport:
    with progress_bars(console) as progress:
        report = engine.run(as_of, progress=progress, time_travel=True, **options)
    first = not story.runs
    story.runs.append((label, as_of, report))
    print_run(console, report, title=f"{label}: run {report.run_id}, as of {as_of}")
    if first:
        print_problems(console, report, limit=5)
    else:
        for hold in report.held:
            console.print(
                f"[yellow]held[/] {hold.system} {hold.kind}: {hold.reason}", highlight=False
            )
    return report


def _moves(report: RunReport) -> str:
    """``3 enabled, 2 moved, 4 disabled``: the lifecycle in a few words."""
    plan = report.plan
    if plan is None:
        return ""
    kinds = Counter(a.kind.value for a in plan.actions() if a.target == "helloid")
    return (
        f"HelloID: {kinds['create']} new accounts, {kinds['enable']} enabled, "
        f"{len(_movers(report))} moved to another department, {kinds['disable']} disabled, "
        f"{kinds['delete']} deleted"
    )


def _tell(
    console: Console,
    story: Story,
    sandbox: Sandbox,
    engine: Engine,
    today: dt.date,
    departments: list[Any],
) -> None:
    config = engine.pipeline
    _step(
        console,
        1,
        "check",
        f"The pipeline file [bold]{config.path}[/] is valid; every system answers:",
    )
    for name in [*config.sources, *config.targets]:
        system = engine.system(name)
        result = system.hook.idsync_check_connection(
            ctx=HookContext(system=name, dry_run=True, settings=system.settings)
        )
        ok = result is None or result.success
        note = "; ".join(result.messages) if result else "no connection test"
        console.print(
            f"  {'[green]ok[/]' if ok else '[red]failed[/]'} {name}: {note}", highlight=False
        )

    _step(console, 2, "plan", "What the first run would do. Nothing is changed anywhere yet:")
    with progress_bars(console) as progress:
        preview = engine.plan(today, progress=progress)
    if preview.plan is not None:
        print_plan(console, preview.plan, limit=8)

    _step(
        console,
        3,
        "run",
        "Accounts created or correlated with the ones already in HelloID, department groups ensured, permissions granted, the user name written back to AFAS. Broken HR rows are blocked, the rest goes on:",
    )
    _run(console, story, engine, "first run", today)

    _step(
        console,
        4,
        "run again",
        "Nothing changed in HR, so nothing is done — not a single write request:",
    )
    before = _writes(sandbox)
    _run(console, story, engine, "re-run", today)
    after = _writes(sandbox)
    idle = {name: after[name] - before[name] for name in after}
    console.print(f"  write requests during the re-run: {idle}", highlight=False)

    month = today + dt.timedelta(days=30)
    _step(
        console,
        5,
        "a month later",
        f"Time travel with --as-of {month}: joiners enabled, movers' groups switched, leavers disabled:",
    )
    report = _run(console, story, engine, "a month later", month)
    console.print(f"  {_moves(report)}", highlight=False)
    story.followed = next(iter(_movers(report)), None)

    later = today + dt.timedelta(days=90)
    _step(
        console,
        6,
        "later still",
        f"--as-of {later}: accounts disabled more than 30 days ago are deleted:",
    )
    report = _run(console, story, engine, "later still", later)
    console.print(f"  {_moves(report)}", highlight=False)

    lost = max(
        departments,
        key=lambda d: sum(
            1
            for p in sandbox.world.persons
            for c in p.contracts
            if c.department and c.department.external_id == d.external_id
        ),
    )
    numbers = {
        p.external_id
        for p in sandbox.world.persons
        if any(c.department and c.department.external_id == lost.external_id for c in p.contracts)
    }
    afas = sandbox.apps.get("afas")
    _step(
        console,
        7,
        "HR loses a department",
        f"The AFAS export suddenly misses {len(numbers)} people of '{lost.name}'. The source threshold holds the whole import; nothing downstream changes:",
    )
    if afas is not None and afas.data is not None:
        afas.data.remove_employees(numbers)
    before = _writes(sandbox)
    report = _run(console, story, engine, "after the loss", later)
    after = _writes(sandbox)
    if report.exit_code == EXIT_HELD:
        console.print(
            f"  write requests: {sum(after.values()) - sum(before.values())}. Once HR confirms, release it with [bold]idsync run … --approve import[/]."
        )

    person = story.followed or next(iter(sorted(p.external_id for p in sandbox.world.persons)))
    story.followed = person
    _step(console, 8, "the audit trail", f"Everything idsync did for person {person}:")
    print_audit(
        console, engine.store.audit(person=person, limit=30), title=f"audit trail of {person}"
    )
    story.writes = _writes(sandbox)


def _summary(console: Console, story: Story, seconds: float, pipeline: Path, workdir: Path) -> None:
    console.print()
    console.print(Rule("[bold]summary[/]", align="left"), width=_rule_width(console))
    table = Table(show_edge=False)
    table.add_column("run")
    table.add_column("as of")
    table.add_column("done", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("held")
    table.add_column("blocked", justify="right")
    for label, as_of, report in story.runs:
        table.add_row(
            label,
            str(as_of),
            str(report.count("done")),
            str(report.count("failed")),
            ", ".join(f"{h.system} {h.kind}" for h in report.held),
            str(len(report.blocked)),
        )
    console.print(table)
    totals = story.totals()
    console.print(
        "  " + (", ".join(f"{n} {kind}" for kind, n in sorted(totals.items())) or "nothing done"),
        highlight=False,
    )
    console.print(f"  write requests per system: {story.writes}", highlight=False)
    console.print(f"  finished in {seconds:.0f} s; the state is in [bold]{story.state}[/].")
    relative = os.path.relpath(pipeline, workdir.resolve())
    console.print(
        f"  Explore it: [bold]cd {workdir} && ../.venv/bin/idsync audit {relative} --person {story.followed}[/]",
        highlight=False,
    )
    console.print(
        "  Or in the web console (read-only here: the sandbox has stopped):\n"
        f"    [bold]cd {workdir}[/]\n"
        f"    [bold]../.venv/bin/idsync users add {relative} admin --role approver[/]\n"
        f"    [bold]../.venv/bin/idsync serve {relative}[/]\n"
        "    then open http://127.0.0.1:8080/ and sign in as admin",
        highlight=False,
    )
