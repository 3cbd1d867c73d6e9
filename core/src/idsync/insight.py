"""``idsync person``: one person as idsync sees them, from the state store and the rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync.engine import Engine
from idsync.evaluate import Evaluator
from idsync.expressions import ExpressionError
from idsync.jsondoc import timestamp
from idsync.model import Person
from idsync.report import local_time
from idsync.secrets import redact_data

__all__ = ["person_view", "print_person"]


def person_view(engine: Engine, person_id: str, as_of: dt.date) -> dict[str, Any] | None:
    """Contracts (in conditions per target), accounts, permissions and the last actions."""
    store = engine.store
    sources = store.persons_of(person_id)
    accounts = store.accounts_of(person_id)
    audit = store.audit(person=person_id, limit=20)
    blocked = store.blocked_of(person_id)
    if not sources and not accounts and not audit and not blocked:
        return None
    person: Person | None = None
    for name in engine.pipeline.sources:
        if name in sources:
            try:
                person = Person.model_validate(sources[name])
            except ValidationError:
                continue
            break
    contracts = []
    if person is not None:
        for contract in person.contracts:
            row: dict[str, Any] = {
                "id": contract.external_id,
                "start": contract.start.isoformat(),
                "end": contract.end.isoformat() if contract.end else None,
                "department": contract.department.name if contract.department else None,
                "title": contract.title.name if contract.title else None,
                "active": contract.active_at(as_of),
                "in_conditions": {},
            }
            for target, cfg in engine.pipeline.targets.items():
                evaluator = Evaluator(target, cfg, engine.expressions, as_of)
                try:
                    row["in_conditions"][target] = contract in evaluator.in_conditions(person)
                except ExpressionError as exc:
                    row["in_conditions"][target] = f"error: {exc}"
            contracts.append(row)
    view: dict[str, Any] = redact_data(
        {
            "person": person_id,
            "display_name": person.display_name if person else None,
            "as_of": as_of.isoformat(),
            "sources": sorted(sources),
            "blocked": [
                {
                    "field": b["field"],
                    "problem": b["problem"],
                    "source": b["source"],
                    "since": timestamp(b["since"]),
                    "run": b["run_id"],
                }
                for b in blocked
            ],
            "contracts": contracts,
            "accounts": {
                target: {
                    "reference": shadow.reference,
                    "enabled": shadow.enabled if _has_access(engine, target) else None,
                    "disabled_on": shadow.disabled_on.isoformat() if shadow.disabled_on else None,
                    "data": shadow.data,
                    "permissions": sorted(shadow.permissions),
                }
                for target, shadow in accounts.items()
            },
            "last_actions": [
                {
                    "run": r["run_id"],
                    "at": timestamp(r["at"]),
                    "target": r["target"],
                    "kind": r["kind"],
                    "status": r["status"],
                    "key": r["key"],
                    "messages": r["messages"],
                }
                for r in audit
            ],
        }
    )
    return view


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _has_access(engine: Engine, target: str) -> bool:
    """Whether the target's plugin can enable and disable (else access does not apply)."""
    cfg = engine.pipeline.targets.get(target)
    info = engine.registry.get(cfg.plugin) if cfg else None
    return info is None or "idsync_enable" in info.hooks


def print_person(console: Console, view: dict[str, Any]) -> None:
    """The person view as rich tables."""
    console.print(
        f"[bold]{escape(view['display_name'] or view['person'])}[/] ({escape(view['person'])}), "
        f"as of {view['as_of']}",
        highlight=False,
    )
    for block in view.get("blocked", []):
        since = local_time(_moment(block["since"]))
        source = f" in {block['source']}" if block["source"] else ""
        console.print(
            f"[bold red]blocked[/]{escape(source)}: {escape(block['field'])}: "
            f"{escape(block['problem'])} (since {since}, last seen by run {block['run']})",
            highlight=False,
            soft_wrap=True,
        )
    if view.get("blocked"):
        known = " (below: what the last good import had)" if view["contracts"] else ""
        console.print(
            f"  nothing changes for this person until the source row is fixed{known}",
            highlight=False,
        )
    contracts = Table(title="contracts", show_edge=False)
    for column in ("id", "start", "end", "department", "title", "active", "in conditions"):
        contracts.add_column(column)
    for c in view["contracts"]:
        conditions = ", ".join(
            f"{t}: {'yes' if v is True else v or 'no'}" for t, v in c["in_conditions"].items()
        )
        contracts.add_row(
            escape(c["id"]),
            c["start"],
            c["end"] or "open",
            escape(c["department"] or ""),
            escape(c["title"] or ""),
            "yes" if c["active"] else "no",
            escape(conditions),
        )
    console.print(contracts)
    for target, account in view["accounts"].items():
        state = {True: "enabled", False: "disabled", None: "no access lifecycle"}[
            account["enabled"]
        ]
        console.print(
            f"[bold]{escape(target)}[/]: {escape(str(account['reference']))} ({state})",
            highlight=False,
        )
        for key, value in account["data"].items():
            console.print(f"    {escape(key)}: {escape(str(value))}", highlight=False)
        for key in account["permissions"]:
            console.print(f"    [green]✓[/] {escape(key)}", highlight=False)
    actions = Table(title="last actions", show_edge=False)
    for column in ("run", "when", "target", "action", "status", "what"):
        actions.add_column(column)
    for a in view["last_actions"]:
        actions.add_row(
            str(a["run"]),
            local_time(_moment(a["at"])),
            escape(a["target"]),
            a["kind"],
            a["status"],
            escape(a["key"] or "; ".join(a["messages"] or [])),
        )
    console.print(actions)
