"""A rig for testing the lifecycle engine without HTTP: an in-memory HR source and an in-memory
directory target, both real plugins on the real hooks, run by the real engine against a real
SQLite state store.

The directory keeps what a target keeps (accounts with data, enabled flag, groups) and a log of
every call with the date of the run that made it, so tests can ask what the engine did to whom,
and when. Nothing here imitates engine code: only the two systems at the ends are stand-ins.
"""

from __future__ import annotations

import datetime as dt
import itertools
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idsync.config import load_pipeline
from idsync.engine import Engine, RunReport
from idsync.hookspecs import hookimpl
from idsync.model import (
    Account,
    ActionResult,
    HookContext,
    Permission,
    PluginAbout,
    PluginKind,
)
from idsync.plugins import Registry
from pydantic import BaseModel

BASE = dt.date(2026, 1, 1)
"""Day 0 of every rig history."""


class NoSettings(BaseModel):
    """Neither stand-in has settings."""


@dataclass
class Call:
    """One hook call the directory received."""

    hook: str
    person: str | None
    reference: str | None
    on: dt.date
    dry_run: bool
    detail: Any = None


@dataclass
class Entry:
    """One account in the directory."""

    reference: str
    data: dict[str, Any]
    enabled: bool = False
    groups: set[str] = field(default_factory=set)
    disabled_on: dt.date | None = None
    """The date of the run that last disabled it (None: enabled, or never disabled)."""


class Directory:
    """The target's state: accounts by reference, and every call received."""

    def __init__(self) -> None:
        self.accounts: dict[str, Entry] = {}
        self.calls: list[Call] = []
        self.blocked: dict[tuple[str, str], str] = {}
        """``{(hook, person): message}``: calls the directory answers *blocked*."""
        self.failing: set[tuple[str, str]] = set()
        """``{(hook, person)}``: calls the directory refuses (a failure)."""
        self.case_insensitive = False
        """Whether names compare without regard to letter case (as HelloID's do)."""
        self.refuse_renames = False
        """Whether an update refuses to change ``userName`` (the rest is written)."""
        self.on_write: Callable[[Call], None] | None = None
        """Called after each write the directory does (a test's hook into the timeline)."""
        self._ids = itertools.count(1)

    def new_reference(self) -> str:
        return f"acc-{next(self._ids)}"

    def by_employee(self, employee: str) -> list[Entry]:
        return [e for e in self.accounts.values() if e.data.get("employeeId") == employee]

    def writes(self, since: int = 0) -> list[Call]:
        """Calls that change something (not reads, not dry-run), from call ``since`` on."""
        return [c for c in self.calls[since:] if c.hook not in _READS and not c.dry_run]

    def add_by_hand(self, employee: str, *, enabled: bool = True, **data: Any) -> Entry:
        """An account made in the target without idsync."""
        entry = Entry(self.new_reference(), {"employeeId": employee, **data}, enabled=enabled)
        self.accounts[entry.reference] = entry
        return entry


_READS = {"correlate", "attribute_available", "accounts"}


class MemoryTarget:
    """An in-memory directory with groups, speaking idsync's target hooks."""

    def __init__(self, directory: Directory, settings: BaseModel | None = None) -> None:
        self.directory = directory

    def _log(self, hook: str, ctx: HookContext, detail: Any = None) -> None:
        person = ctx.person.external_id if ctx.person else None
        if person is None and ctx.reference in self.directory.accounts:
            person = self.directory.accounts[ctx.reference].data.get("employeeId")
        call = Call(hook, person, ctx.reference, ctx.as_of, ctx.dry_run, detail)
        self.directory.calls.append(call)
        if (hook, person or "") in self.directory.failing:
            raise RuntimeError(f"the directory refuses {hook} of {person}")

    def _written(self, result: ActionResult) -> ActionResult:
        """A write's answer, after the test's ``on_write`` saw the write done."""
        call = self.directory.calls[-1]
        if self.directory.on_write is not None and not call.dry_run:
            self.directory.on_write(call)
        return result

    def _blocked(self, hook: str, ctx: HookContext) -> ActionResult | None:
        person = ctx.person.external_id if ctx.person else ""
        message = self.directory.blocked.get((hook, person))
        if message is None:
            return None
        return ActionResult(success=False, blocked=True, messages=[message])

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="memdir",
            kind=PluginKind.TARGET,
            version="1",
            settings=NoSettings,
            case_insensitive=self.directory.case_insensitive,
        )

    def _same(self, a: Any, b: Any) -> bool:
        if self.directory.case_insensitive and isinstance(a, str) and isinstance(b, str):
            return a.casefold() == b.casefold()
        return bool(a == b)

    @hookimpl
    def idsync_attribute_available(self, ctx: HookContext, attribute: str, value: Any) -> bool:
        self._log("attribute_available", ctx, (attribute, value))
        return not any(
            self._same(e.data.get(attribute), value) and e.reference != ctx.reference
            for e in self.directory.accounts.values()
        )

    @hookimpl
    def idsync_correlate(self, ctx: HookContext) -> list[Account]:
        self._log("correlate", ctx)
        assert ctx.correlation is not None
        field_name, value = ctx.correlation.account_field, ctx.correlation.value
        return [
            Account(reference=e.reference, data=dict(e.data), enabled=e.enabled)
            for e in list(self.directory.accounts.values())  # workers create meanwhile
            if self._same(e.data.get(field_name), value)
        ]

    @hookimpl
    def idsync_create(self, ctx: HookContext) -> ActionResult:
        self._log("create", ctx, dict(ctx.account))
        if (blocked := self._blocked("create", ctx)) is not None:
            return blocked
        if ctx.dry_run:
            return ActionResult(enabled=ctx.active)
        entry = Entry(self.directory.new_reference(), dict(ctx.account), enabled=ctx.active)
        self.directory.accounts[entry.reference] = entry
        return self._written(ActionResult(reference=entry.reference, enabled=ctx.active))

    def _entry(self, ctx: HookContext) -> Entry | None:
        return self.directory.accounts.get(ctx.reference or "")

    @hookimpl
    def idsync_update(self, ctx: HookContext) -> ActionResult:
        self._log("update", ctx, {k: c.after for k, c in ctx.changes.items()})
        if (blocked := self._blocked("update", ctx)) is not None:
            return blocked
        entry = self._entry(ctx)
        if entry is None:
            return ActionResult(success=False, not_found=True, messages=["no such account"])
        refused = {}
        if self.directory.refuse_renames and "userName" in ctx.changes:
            refused["userName"] = "renames are off in this directory"
        if not ctx.dry_run:
            entry.data.update({k: c.after for k, c in ctx.changes.items() if k not in refused})
        return ActionResult(refused=refused)

    @hookimpl
    def idsync_enable(self, ctx: HookContext) -> ActionResult:
        self._log("enable", ctx)
        entry = self._entry(ctx)
        if entry is None:
            return ActionResult(success=False, not_found=True, messages=["no such account"])
        if not ctx.dry_run:
            entry.enabled, entry.disabled_on = True, None
        return ActionResult()

    @hookimpl
    def idsync_disable(self, ctx: HookContext) -> ActionResult:
        self._log("disable", ctx)
        entry = self._entry(ctx)
        if entry is None:
            return ActionResult(not_found=True, messages=["already gone"])
        if not ctx.dry_run:
            entry.enabled = False
            entry.disabled_on = entry.disabled_on or ctx.as_of
        return ActionResult()

    @hookimpl
    def idsync_delete(self, ctx: HookContext) -> ActionResult:
        self._log("delete", ctx)
        if not ctx.dry_run and self.directory.accounts.pop(ctx.reference or "", None) is None:
            return ActionResult(not_found=True, messages=["already gone"])
        return ActionResult()

    @hookimpl
    def idsync_grant(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        self._log("grant", ctx, ctx.permission.key)
        entry = self._entry(ctx)
        if entry is None:
            return ActionResult(success=False, not_found=True, messages=["no such account"])
        if not ctx.dry_run:
            entry.groups.add(ctx.permission.key)
        return ActionResult()

    @hookimpl
    def idsync_revoke(self, ctx: HookContext) -> ActionResult:
        assert ctx.permission is not None
        self._log("revoke", ctx, ctx.permission.key)
        entry = self._entry(ctx)
        if entry is None:
            return ActionResult(not_found=True)
        if not ctx.dry_run:
            entry.groups.discard(ctx.permission.key)
        return ActionResult()

    @hookimpl
    def idsync_accounts(self, ctx: HookContext) -> Iterable[Account]:
        self._log("accounts", ctx)
        for e in list(self.directory.accounts.values()):
            yield Account(
                reference=e.reference,
                data=dict(e.data),
                enabled=e.enabled,
                permissions=sorted(e.groups),
            )

    @hookimpl
    def idsync_permissions(self, ctx: HookContext) -> Iterable[Permission]:
        groups = {g for e in self.directory.accounts.values() for g in e.groups}
        return [Permission.parse(g) for g in sorted(groups)]


class HR:
    """The source's rows: one dict per person in the shape of :class:`idsync.model.Person`."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.hidden: set[str] = set()
        """Persons the next imports leave out (a source glitch), without losing their row."""
        self.answer_empty = False

    def hire(
        self,
        pid: str,
        start: dt.date,
        end: dt.date | None = None,
        *,
        department: str | None = "SALES",
        manager: str | None = None,
        family: str | None = None,
        email: str | None = None,
        fte: float = 1.0,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "external_id": pid,
            "name": {"given": f"Given{pid}", "family": family or f"Family{pid}"},
            "contact": {"email": email},
            "contracts": [],
        }
        if manager:
            row["manager"] = {"external_id": manager}
        self.rows[pid] = row
        self.contract(pid, start, end, department=department, fte=fte)
        return row

    def contract(
        self,
        pid: str,
        start: dt.date,
        end: dt.date | None = None,
        *,
        department: str | None = "SALES",
        fte: float = 1.0,
    ) -> None:
        contracts = self.rows[pid]["contracts"]
        contract: dict[str, Any] = {
            "external_id": f"{pid}-{len(contracts) + 1}",
            "start": start.isoformat(),
            "end": end.isoformat() if end else None,
            "fte": fte,
        }
        if department is not None:
            contract["department"] = {
                "external_id": department,
                "code": department,
                "name": department,
            }
        contracts.append(contract)

    def end(self, pid: str, on: dt.date) -> None:
        """End every open or later-ending contract of ``pid`` on ``on``."""
        for contract in self.rows[pid]["contracts"]:
            if contract["end"] is None or contract["end"] > on.isoformat():
                contract["end"] = on.isoformat()

    def move(self, pid: str, department: str) -> None:
        """Put every contract of ``pid`` in ``department``."""
        for contract in self.rows[pid]["contracts"]:
            contract["department"] = {
                "external_id": department,
                "code": department,
                "name": department,
            }


class MemorySource:
    """An in-memory HR source speaking idsync's source hooks."""

    def __init__(self, hr: HR, settings: BaseModel | None = None) -> None:
        self.hr = hr

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(name="memhr", kind=PluginKind.SOURCE, version="1", settings=NoSettings)

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> Iterable[dict[str, Any]]:
        if self.hr.answer_empty:
            return []
        return [dict(r) for pid, r in self.hr.rows.items() if pid not in self.hr.hidden]

    @hookimpl
    def idsync_departments(self, ctx: HookContext) -> Iterable[dict[str, Any]]:
        return []


PIPELINE = """\
name: rig
state: sqlite:///{db}
sources:
  hr:
    plugin: memhr
{source_extra}
targets:
  dir:
    plugin: memdir
    concurrency: {concurrency}
    account:
      correlate: {{person: external_id, account: employeeId}}
      mapping:
        employeeId: "{{{{ person.external_id }}}}"
        family: "{{{{ person.name.family }}}}"
        department: "{{{{ contract.department.code }}}}"
{account_extra}
      lifecycle:
        create_days_before_start: 14
        enable_days_before_start: 0
        disable_days_after_end: 0
        delete_days_after_disable: 30
    permissions:
      - {{dynamic: "group:dep_{{{{ contract.department.code }}}}"}}
{target_extra}
{targets_extra}
"""


class Rig:
    """The engine over the in-memory HR and directory, with a SQLite store in ``tmp``."""

    def __init__(
        self,
        tmp: Path,
        *,
        source_extra: str = "",
        target_extra: str = "",
        account_extra: str = "",
        targets_extra: str = "",
        today: dt.date = BASE,
        concurrency: int = 2,
    ) -> None:
        self.tmp = tmp
        self.concurrency = concurrency
        """The directory target's ``concurrency``."""
        self.hr = HR()
        self.directory = Directory()
        self.book = Directory()
        """A second directory (plugin ``membook``), for pipelines with two targets."""
        self.today = today
        self.registry = Registry(
            entry_points=False,
            extra={
                "memhr": lambda settings=None: MemorySource(self.hr, settings),
                "memdir": lambda settings=None: MemoryTarget(self.directory, settings),
                "membook": lambda settings=None: MemoryTarget(self.book, settings),
            },
        )
        self.configure(
            source_extra=source_extra,
            target_extra=target_extra,
            account_extra=account_extra,
            targets_extra=targets_extra,
        )

    def configure(
        self,
        *,
        source_extra: str = "",
        target_extra: str = "",
        account_extra: str = "",
        targets_extra: str = "",
    ) -> None:
        """(Re)write the pipeline file: extra YAML indented under the source, the target
        ``dir``, its ``account``, or (``targets_extra``) under ``targets`` (more targets)."""
        text = PIPELINE.format(
            db=self.tmp / "state.db",
            concurrency=self.concurrency,
            source_extra=textwrap.indent(textwrap.dedent(source_extra), "    "),
            target_extra=textwrap.indent(textwrap.dedent(target_extra), "    "),
            account_extra=textwrap.indent(textwrap.dedent(account_extra), "      "),
            targets_extra=textwrap.indent(textwrap.dedent(targets_extra), "  "),
        )
        path = self.tmp / "pipeline.yaml"
        path.write_text(text, encoding="utf-8")
        self.pipeline = load_pipeline(path, self.registry, env={})

    def engine(self) -> Engine:
        return Engine(self.pipeline, self.registry)

    def run(self, day: int | dt.date, **options: Any) -> RunReport:
        """One enforcing run dated ``day`` (days after :data:`BASE`, or a date)."""
        on = day if isinstance(day, dt.date) else BASE + dt.timedelta(days=day)
        engine = self.engine()
        try:
            return engine.run(on, time_travel=True, **options)
        finally:
            engine.close()

    def plan(self, day: int | dt.date) -> RunReport:
        on = day if isinstance(day, dt.date) else BASE + dt.timedelta(days=day)
        engine = self.engine()
        try:
            return engine.plan(on)
        finally:
            engine.close()

    def account_of(self, employee: str) -> Entry | None:
        found = self.directory.by_employee(employee)
        assert len(found) <= 1, f"{employee} has {len(found)} accounts"
        return found[0] if found else None

    def touched(self, since: int, person: str) -> list[str]:
        """The write hooks called for ``person`` from call ``since`` on."""
        return [c.hook for c in self.directory.writes(since) if c.person == person]


def day(n: int) -> dt.date:
    """The date ``n`` days after :data:`BASE`."""
    return BASE + dt.timedelta(days=n)


Check = Callable[[Rig], None]
