"""Approvals of held work: list what thresholds held, approve it or reject it later.

A run stores what its thresholds held: a source's import (the new snapshot is not accepted) or
a target's action kind (those actions are not run). ``idsync held`` lists them with what would
happen; ``idsync approve`` carries one out without anyone re-running the pipeline by hand:

- an approved **import** runs the pipeline with that source's import approved
  (``<source>:import``): the new snapshot is accepted and everything that follows from it runs;
- an approved **action kind** runs the pipeline with that kind approved in that target
  (``<target>:<kind>``);
- an approved **reconciliation fix** runs the same reconciliation again with that kind approved.

An approval is for what was reviewed. Before it runs, the work is planned again (read-only):
if the held work has grown since (more persons removed, more actions of the kind, or actions
for persons that were not in the held list), the approval is refused and the item stays held.

``idsync reject`` closes the item: nothing runs. A rejected import keeps the previous snapshot;
the next run imports again and holds again unless the source's data changed back within its
thresholds. A rejected action kind is planned again by the next run and held again unless the
data changed; reject says "not this", and the fix belongs in the source data or the rules.
"""

from __future__ import annotations

import datetime as dt
import getpass
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idsync.engine import EXIT_FAILED, EXIT_HELD, EXIT_INPUT, EXIT_OK, Engine, Progress, RunReport
from idsync.jsondoc import timestamp
from idsync.model import Person
from idsync.plan import Plan
from idsync.reconcile import HELD_PREFIX, Reconciler
from idsync.secrets import redact, redact_data
from idsync.state import Store

__all__ = [
    "ApprovalError",
    "Decision",
    "approve",
    "held_items",
    "print_held",
    "reject",
]

_IMPORT_COUNTS = ("removed", "added", "emptied")


class ApprovalError(Exception):
    """An approval or rejection that cannot be done; ``exit_code`` says why."""

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Decision:
    """What an approval or rejection did."""

    held_ids: list[int]
    status: str
    run_id: int | None = None
    exit_code: int = EXIT_OK
    message: str = ""
    report: Any = None
    """The :class:`~idsync.engine.RunReport` or reconciliation report of the approval run."""

    def as_json(self) -> dict[str, Any]:
        """The decision as ``--json`` prints it."""
        return {
            "held": self.held_ids,
            "status": self.status,
            "run": self.run_id,
            "exit_code": self.exit_code,
            "message": self.message,
        }


def _display_names(store: Store, ids: list[str]) -> dict[str, str]:
    out = {}
    for pid in dict.fromkeys(ids):
        for data in store.persons_of(pid).values():
            try:
                out[pid] = Person.model_validate(data).display_name
            except ValueError:
                continue
            break
    return out


def _iso(value: Any) -> str | None:
    result: str | None = timestamp(value)
    return result


def held_items(
    store: Store,
    pipeline: str,
    pipeline_file: str,
    *,
    include_decided: bool = False,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """The pipeline's held work, newest first, with what approving it would do."""
    items = store.held(pipeline, status=None if include_decided else "held")
    out = []
    for item in items:
        kind: str = item["kind"]
        detail = item["detail"]
        entry: dict[str, Any] = {
            "id": item["id"],
            "run": item["run_id"],
            "created": _iso(item["created"]),
            "status": item["status"],
            "decided": _iso(item["decided"]),
            "decided_run": item.get("decided_run"),
            "decided_by": item.get("decided_by"),
            "comment": item.get("comment"),
            "system": item["system"],
            "kind": kind,
            "command": "reconcile" if kind.startswith(HELD_PREFIX) else "run",
            "count": item["count"],
            "reason": item["reason"],
            "approve": f"idsync approve {pipeline_file} {item['id']}",
        }
        if kind == "import":
            counts = detail if isinstance(detail, dict) else {}
            entry["would"] = {
                "accept": f"the new snapshot of {item['system']}",
                **{k: counts.get(k) for k in ("persons", "added", "removed", "changed", "emptied")},
            }
        else:
            actions = detail.get("actions", []) if isinstance(detail, dict) else detail or []
            names = _display_names(store, [a["person"] for a in actions[:limit] if a.get("person")])
            entry["would"] = [
                {**a, "name": names.get(a.get("person") or "")} for a in actions[:limit]
            ]
            entry["more"] = max(0, item["count"] - len(entry["would"]))
            if isinstance(detail, dict) and "options" in detail:
                entry["options"] = detail["options"]
        out.append(redact_data(entry))
    return out


def _open_item(store: Store, pipeline: str, held_id: int) -> dict[str, Any]:
    item = store.held_item(held_id)
    if item is None or item["pipeline"] != pipeline:
        raise ApprovalError(f"no held item {held_id} for pipeline {pipeline!r} (idsync held)")
    if item["status"] != "held":
        later = [
            h
            for h in store.held(pipeline, status="held")
            if h["system"] == item["system"] and h["kind"] == item["kind"]
        ]
        hint = (
            f"; the current one is {later[0]['id']}"
            if later and item["status"] == "superseded"
            else ""
        )
        raise ApprovalError(f"held item {held_id} is {item['status']}, not held{hint}")
    return item


def _local_user() -> str:
    """Who decides on the command line: the operating-system user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _decision_audit(
    item: dict[str, Any],
    status: str,
    run_id: int,
    actor: str,
    comment: str | None,
    persons: Sequence[str],
) -> list[dict[str, Any]]:
    """The audit records of a decision: one for the held item, one per person it concerns."""
    kind = "approve" if status == "approved" else "reject"
    what = (
        f"the import of {item['system']}"
        if item["kind"] == "import"
        else f"{item['kind']} in {item['system']}"
    )
    said = f": {comment}" if comment else ""
    message = f"held #{item['id']} ({what}) {status} by {actor}{said}"
    base = {
        "run_id": run_id,
        "target": item["system"],
        "kind": kind,
        "status": status,
        "key": item["kind"],
        "messages": [message],
    }
    return [base, *({**base, "person": pid} for pid in dict.fromkeys(persons))]


def _listed_persons(item: dict[str, Any]) -> list[str]:
    """The persons a held item lists (its actions' persons, or its persons)."""
    detail = item["detail"]
    if isinstance(detail, dict) and isinstance(detail.get("persons"), list):
        return [str(p) for p in detail["persons"]]
    actions = detail.get("actions", []) if isinstance(detail, dict) else detail or []
    return [a["person"] for a in actions if isinstance(a, dict) and a.get("person")]


def reject(
    store: Store,
    pipeline: str,
    held_id: int,
    *,
    actor: str | None = None,
    comment: str | None = None,
) -> Decision:
    """Close held work without running it; ``actor`` (by default the operating-system user)
    and ``comment`` are recorded with the decision and in the audit trail."""
    item = _open_item(store, pipeline, held_id)
    actor = actor or _local_user()
    store.decide_held(
        held_id,
        "rejected",
        actor=actor,
        comment=comment,
        audit=_decision_audit(
            item, "rejected", item["run_id"], actor, comment, _listed_persons(item)
        ),
    )
    if item["kind"] == "import":
        what = (
            f"the import of {item['system']} stays unaccepted (the previous snapshot is kept); "
            "the next run holds it again unless the data changed"
        )
    else:
        what = (
            f"{item['count']} {item['kind']} action(s) in {item['system']} are not run; "
            "the next run plans and holds them again unless the data changed"
        )
    return Decision(held_ids=[held_id], status="rejected", message=what)


def _grown(report: RunReport, plan: Plan, item: dict[str, Any]) -> str | None:
    """Why the held work is more now than what was reviewed (``plan`` is the report's), or
    None."""
    system, kind = item["system"], item["kind"]
    if kind == "import":
        imp = next((i for i in report.imports if i.source == system), None)
        held = item["detail"] if isinstance(item["detail"], dict) else {}
        if imp is None or not imp.held:
            return None
        grown = [
            f"{imp.counts.get(k, 0)} {k} now, {held.get(k, 0)} when held"
            for k in _IMPORT_COUNTS
            if imp.counts.get(k, 0) > (held.get(k) or 0)
        ]
        return (
            f"the import of {system} grew since it was held ({'; '.join(grown)})" if grown else None
        )
    now = next((h for h in plan.held if h.system == system and h.kind == kind), None)
    if now is None:
        return None  # no longer over its threshold: what runs is less than was reviewed
    if now.count > item["count"]:
        return f"{now.count} {kind} in {system} now, {item['count']} when held"
    detail = item["detail"] if isinstance(item["detail"], dict) else {}
    reviewed = set(detail.get("persons") or [])
    new = sorted(set(now.persons) - reviewed)
    if new:
        more = " …" if len(new) > 5 else ""
        return f"{kind} in {system} now also holds {', '.join(new[:5])}{more}, not in the held list"
    return None


def _check(engine: Engine, items: list[dict[str, Any]], as_of: dt.date) -> None:
    """Plan again (read-only) and refuse when held work grew since it was held, or when a
    held import not being approved would keep the approval run from getting anywhere."""
    report = engine.plan(as_of)
    if report.plan is None:
        raise ApprovalError(
            f"cannot check the held work again: {report.error or 'the sources failed'}",
            EXIT_FAILED,
        )
    for item in items:
        why = _grown(report, report.plan, item)
        if why is not None:
            raise ApprovalError(f"{why}; not approved: review the next run's held item", EXIT_HELD)
    approving = {item["system"] for item in items if item["kind"] == "import"}
    blocking = [i.source for i in report.imports if i.held and i.source not in approving]
    if blocking:
        open_ids = {
            h["system"]: h["id"]
            for h in engine.store.held(engine.pipeline.label)
            if h["kind"] == "import"
        }
        also = " ".join(str(open_ids[s]) for s in blocking if s in open_ids)
        ids = " ".join(str(i["id"]) for i in items)
        path = engine.pipeline.path or "PIPELINE"
        hint = f": approve them together (idsync approve {path} {ids} {also})" if also else ""
        raise ApprovalError(
            f"the import of {', '.join(blocking)} is held too, and a run goes no further "
            f"than a held import{hint}",
            EXIT_HELD,
        )


def approve(
    engine: Engine,
    held_ids: Sequence[int],
    *,
    as_of: dt.date | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    time_travel: bool = False,
    actor: str | None = None,
    comment: str | None = None,
) -> Decision:
    """Carry out held work now: one run of the pipeline with those items approved (or, for a
    held reconciliation fix, the reconciliation again).

    ``actor`` (by default the operating-system user) and ``comment`` are recorded with the
    decision, and in the audit trail of the approval run and of every person whose held
    actions it carried out. Raises :class:`ApprovalError` when an item is not open or the
    work grew since it was held, and :class:`~idsync.state.LockHeld` when another runner
    holds the pipeline.
    """
    as_of = as_of or engine.today()
    actor = actor or _local_user()
    store = engine.store
    label = engine.pipeline.label
    items = [_open_item(store, label, held_id) for held_id in dict.fromkeys(held_ids)]
    if not items:
        raise ApprovalError("name the held item(s) to approve (idsync held)")
    fixes = [i for i in items if i["kind"].startswith(HELD_PREFIX)]
    if fixes and len(items) > 1:
        raise ApprovalError("approve a held reconciliation fix on its own")
    if fixes:
        return _approve_fix(engine, items[0], as_of, cancel, time_travel, actor, comment)
    _check(engine, items, as_of)
    approved = {f"{i['system']}:{i['kind']}" for i in items}
    report = engine.run(
        as_of, approve=approved, progress=progress, cancel=cancel, time_travel=time_travel
    )
    if report.plan is None:
        raise ApprovalError(
            f"the approval run {report.run_id} went no further than the import: "
            f"{report.error or '; '.join(h.reason for h in report.held)}",
            EXIT_FAILED if report.error else EXIT_HELD,
        )
    run_id = report.run_id
    if run_id is None:  # an enforcing run always records itself
        raise ApprovalError("the approval run was not recorded", EXIT_FAILED)
    for item in items:
        released = report.plan.targets.get(item["system"])
        persons = [
            a.person
            for a in (released.actions if released else [])
            if a.person and item["kind"] in (a.kind.value, getattr(a, "transition", None))
        ]
        store.decide_held(
            item["id"],
            "approved",
            run_id,
            actor=actor,
            comment=comment,
            audit=_decision_audit(item, "approved", run_id, actor, comment, persons),
        )
    what = ", ".join(
        f"the import of {i['system']}" if i["kind"] == "import" else f"{i['kind']} in {i['system']}"
        for i in items
    )
    return Decision(
        held_ids=[i["id"] for i in items],
        status="approved",
        run_id=report.run_id,
        exit_code=report.exit_code,
        message=f"{what} approved and run in run {report.run_id}",
        report=report,
    )


def _approve_fix(
    engine: Engine,
    item: dict[str, Any],
    as_of: dt.date,
    cancel: threading.Event | None,
    time_travel: bool,
    actor: str,
    comment: str | None,
) -> Decision:
    store = engine.store
    system, kind = item["system"], item["kind"]
    action_kind = kind.removeprefix(HELD_PREFIX)
    options = (item["detail"] or {}).get("options", {})
    result = Reconciler(engine).run(
        as_of,
        targets=options.get("targets"),
        link=bool(options.get("link")),
        restore=bool(options.get("restore")),
        disable_orphans=bool(options.get("disable_orphans")),
        approve={f"{system}:{action_kind}"},
        approve_max={action_kind: item["count"]},
        cancel=cancel,
        time_travel=time_travel,
    )
    still = [h for h in result.held if h.system == system and h.kind == action_kind]
    if still:
        again = [
            h["id"]
            for h in store.held_in_runs([result.run_id] if result.run_id else [])
            if h["system"] == system and h["kind"] == kind
        ]
        where = f"; held again as #{again[0]}" if again else ""
        raise ApprovalError(f"not approved: {still[0].reason}{where}", EXIT_HELD)
    store.decide_held(
        item["id"],
        "approved",
        result.run_id,
        actor=actor,
        comment=comment,
        audit=_decision_audit(
            item, "approved", result.run_id or item["run_id"], actor, comment, []
        ),
    )
    message = (
        f"reconciliation fixes run {result.run_id}"
        if result.run_id
        else "nothing left to fix; closed"
    )
    return Decision(
        held_ids=[item["id"]],
        status="approved",
        run_id=result.run_id,
        exit_code=result.exit_code,
        message=message,
        report=result,
    )


def print_held(console: Console, items: list[dict[str, Any]], limit: int = 20) -> None:
    """Held items, each with what approving it would do."""
    if not items:
        console.print("nothing is held")
        return
    for item in items:
        status = "" if item["status"] == "held" else f" [dim]({item['status']})[/]"
        console.print(
            f"[bold yellow]#{item['id']}[/] {escape(item['system'])} {escape(item['kind'])}{status}"
            f" — {escape(redact(item['reason']))}  [dim](run {item['run']}, {str(item['created'])[:19]})[/]",
            highlight=False,
        )
        would = item["would"]
        if isinstance(would, dict):
            console.print(
                f"    approving accepts {escape(would['accept'])}: {would['persons']} persons, "
                f"{would['added']} added, {would['removed']} removed, {would['changed']} changed, "
                f"{would['emptied']} with fields emptied",
                highlight=False,
            )
        else:
            table = Table(show_edge=False, box=None, padding=(0, 1), show_header=False)
            for _ in range(3):
                table.add_column(overflow="fold")
            for action in would[:limit]:
                who = action.get("person") or action.get("reference") or ""
                if action.get("name"):
                    who = f"{action['name']} ({who})"
                what = action.get("key") or ", ".join(
                    f"{k}: {v.get('before')} → {v.get('after')}"
                    for k, v in list((action.get("changes") or {}).items())[:3]
                )
                what = f"{action.get('kind')} {what}".strip()
                table.add_row(
                    f"    {escape(who)}",
                    escape(redact(what)),
                    escape(redact(action.get("reason") or "")),
                )
            console.print(table)
            if item.get("more"):
                console.print(f"    [dim]… and {item['more']} more[/]")
        if item["status"] == "held":
            console.print(
                f"    [dim]{escape(item['approve'])}  ·  or reject it[/]", highlight=False
            )
