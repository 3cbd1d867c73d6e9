"""The console's pages: overview, runs, plan preview, held work, persons, audit, reconcile.

Each view reads what its page shows (in a worker thread) and returns the template's context.
Everything shown has passed through the secret redaction the CLI uses; no pipeline setting
is ever rendered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from idsync.approvals import ApprovalError, approve, reject
from idsync.insight import person_view
from idsync.model import ActionKind, ActionStatus
from idsync.reconcile import Reconciler
from idsync.secrets import redact, redact_data
from idsync.state import LockHeld
from idsync.status import check_connectors, status_view

from . import queries
from .app import Console, Loaded, User, form_action, page, path_for
from .chart import KIND_COLORS, actions_chart
from .preview import TRANSITIONS, UNGROUPED, plan_view, transition_of

__all__ = ["routes", "show_value", "transition_label", "when"]

PLAN_PAGE = 25
HELD_PAGE = 100
_DECISION_KINDS = ("approve", "reject")
_DECISION_STATUSES = ("approved", "rejected")


# --- template helpers -----------------------------------------------------------------------


def when(value: Any) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` (UTC), a date as it is, nothing as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:19].replace("T", " ")


def show_value(value: Any) -> str:
    """An attribute value as text (lists and objects as compact JSON; nothing as a dash)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return redact(value)
    return redact(json.dumps(value, ensure_ascii=False, default=str))


def transition_label(name: str) -> str:
    """How a transition is called on the page."""
    return "no transition" if name == UNGROUPED else name


def _seconds(run: dict[str, Any]) -> float | None:
    if run.get("started") and run.get("finished"):
        return float((run["finished"] - run["started"]).total_seconds())
    return None


def _pipeline(request: Request, console: Console) -> Loaded:
    label = request.path_params["pipeline"]
    loaded = console.pipelines.get(label)
    if loaded is None:
        raise _NotFound(f"no pipeline named {label!r}")
    return loaded


class _NotFound(Exception):
    pass


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


def _base(loaded: Loaded, section: str) -> dict[str, Any]:
    return {"loaded": loaded, "section": section}


def _redirect(request: Request, name: str, **params: Any) -> RedirectResponse:
    return RedirectResponse(str(path_for(request, name, **params)), status_code=303)


# --- overview -------------------------------------------------------------------------------


def overview(request: Request, console: Console, user: User) -> dict[str, Any]:
    """Every pipeline: last runs, open held work, blocked persons, health, actions per run."""
    cards = []
    for loaded in console.pipelines.values():
        view = status_view(loaded.engine, runs=8, connect=False)
        blocked_run, blocked = queries.last_blocked(loaded.store, loaded.label)
        health = console.jobs.latest("health", loaded.label)
        cards.append(
            {
                "loaded": loaded,
                "view": view,
                "chart": actions_chart(queries.runs_chart(loaded.store, loaded.label)),
                "blocked": blocked,
                "blocked_run": blocked_run,
                "health": health,
            }
        )
    return {"cards": cards, "section": "overview", "colors": KIND_COLORS}


def check_health(request: Request, console: Console, user: User, form: dict[str, str]) -> Response:
    """Test every connector's connection (in the background)."""
    loaded = _pipeline(request, console)
    if not loaded.online:
        return console.refuse(request, 409, _offline(loaded), user)
    console.jobs.start(
        "health",
        loaded.label,
        user.name,
        lambda: check_connectors(console.job_engine(loaded.label)),
    )
    return RedirectResponse(str(path_for(request, "overview")) + f"#p-{loaded.label}", 303)


def _offline(loaded: Loaded) -> str:
    return (
        f"pipeline {loaded.label} was loaded without its settings, so the console cannot reach "
        f"its systems: {loaded.problem}"
    )


# --- runs -----------------------------------------------------------------------------------


def runs(request: Request, console: Console, user: User) -> dict[str, Any]:
    """The pipeline's runs, newest first, filtered by command and status."""
    loaded = _pipeline(request, console)
    q = request.query_params
    command, status = q.get("command", ""), q.get("status", "")
    result = queries.runs_page(
        loaded.store,
        loaded.label,
        command=command or None,
        status=status or None,
        before=_int(q.get("before")),
        after=_int(q.get("after")),
    )
    for run in result.rows:
        run["seconds"] = _seconds(run)
    return {
        **_base(loaded, "runs"),
        "page": result,
        "command": command,
        "status": status,
        "filters": {k: v for k, v in (("command", command), ("status", status)) if v},
    }


def run(request: Request, console: Console, user: User) -> dict[str, Any] | Response:
    """One run: its counts, the held work it made or carried out, its actions."""
    loaded = _pipeline(request, console)
    run_id = int(request.path_params["run"])
    row = queries.run_row(loaded.store, loaded.label, run_id)
    if row is None:
        return console.refuse(request, 404, f"no run {run_id} of {loaded.label}", user)
    row["seconds"] = _seconds(row)
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in ("target", "kind", "status", "person")}
    actions = queries.run_actions(
        loaded.store,
        run_id,
        target=filters["target"] or None,
        kind=filters["kind"] or None,
        status=filters["status"] or None,
        person=filters["person"] or None,
        cursor=q.get("cursor"),
    )
    held = loaded.store.held_in_runs([run_id])
    carried = [
        h
        for h in loaded.store.held(loaded.label, status="approved")
        if h.get("decided_run") == run_id
    ]
    return {
        **_base(loaded, "runs"),
        "run": row,
        "actions": actions,
        "filters": filters,
        "set_filters": {k: v for k, v in filters.items() if v},
        "held": held,
        "carried": carried,
        "kinds": [k.value for k in ActionKind] + list(_DECISION_KINDS),
        "statuses": [s.value for s in ActionStatus] + list(_DECISION_STATUSES),
    }


# --- plan preview ---------------------------------------------------------------------------


def plan(request: Request, console: Console, user: User) -> dict[str, Any]:
    """The current plan (computed in the background), grouped by transition and target."""
    loaded = _pipeline(request, console)
    job = console.jobs.latest("plan", loaded.label)
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in ("target", "transition", "kind", "q")}
    context: dict[str, Any] = {
        **_base(loaded, "plan"),
        "job": job,
        "filters": filters,
        "set_filters": {k: v for k, v in filters.items() if v},
        "transitions": list(TRANSITIONS),
        "kinds": [k.value for k in ActionKind],
    }
    if job is None or job.running or job.error or job.result is None:
        return context
    view = job.result
    chosen = view.select(
        target=filters["target"],
        transition=filters["transition"],
        kind=filters["kind"],
        text=filters["q"],
    )
    number = max(1, _int(q.get("page")) or 1)
    pages = max(1, -(-len(chosen) // PLAN_PAGE))
    number = min(number, pages)
    return {
        **context,
        "view": view,
        "chosen": chosen[(number - 1) * PLAN_PAGE : number * PLAN_PAGE],
        "matching": len(chosen),
        "number": number,
        "pages": pages,
    }


def compute_plan(request: Request, console: Console, user: User, form: dict[str, str]) -> Response:
    """Plan again now (read-only: the sources and targets are read, nothing is written)."""
    loaded = _pipeline(request, console)
    if not loaded.online:
        return console.refuse(request, 409, _offline(loaded), user)
    label = loaded.label
    console.jobs.start(
        "plan",
        label,
        user.name,
        lambda: plan_view(console.job_engine(label).plan(console.as_of(loaded))),
    )
    return _redirect(request, "plan", pipeline=label)


# --- held work ------------------------------------------------------------------------------


def held(request: Request, console: Console, user: User) -> dict[str, Any]:
    """Open held work, and the latest decisions."""
    loaded = _pipeline(request, console)
    return {
        **_base(loaded, "held"),
        "open": loaded.store.held(loaded.label, status="held"),
        "decided": queries.decided_held(loaded.store, loaded.label),
    }


def _actions_of(detail: Any) -> list[dict[str, Any]]:
    """The actions a held item lists (or, when it lists persons only, one row each)."""
    if isinstance(detail, dict) and "actions" not in detail and "persons" in detail:
        return [{"person": p} for p in detail["persons"] or [] if isinstance(p, str)]
    actions = detail.get("actions", []) if isinstance(detail, dict) else detail
    return [a for a in actions or [] if isinstance(a, dict)]


def held_item(request: Request, console: Console, user: User) -> dict[str, Any] | Response:
    """One held item: every action it would release (by transition and person), the
    decision form for approvers, and the approval in progress or its outcome."""
    loaded = _pipeline(request, console)
    held_id = int(request.path_params["held"])
    item = loaded.store.held_item(held_id)
    if item is None or item["pipeline"] != loaded.label:
        return console.refuse(request, 404, f"no held item {held_id} in {loaded.label}", user)
    item = redact_data(item)
    job = console.jobs.latest("approve", loaded.label, subject=str(held_id))
    context: dict[str, Any] = {**_base(loaded, "held"), "item": item, "job": job}
    if item["kind"] == "import":
        context["counts"] = item["detail"] if isinstance(item["detail"], dict) else {}
        return context
    would = _actions_of(item["detail"])
    number = max(1, _int(request.query_params.get("page")) or 1)
    pages = max(1, -(-len(would) // HELD_PAGE))
    number = min(number, pages)
    shown = would[(number - 1) * HELD_PAGE : number * HELD_PAGE]
    names = queries.display_names(loaded.store, [a["person"] for a in shown if a.get("person")])
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for action in shown:
        who = action.get("person") or action.get("reference") or ""
        entry = groups.setdefault(transition_of(action), {}).setdefault(
            who, {"person": action.get("person"), "name": names.get(who), "actions": []}
        )
        entry["actions"].append(
            {
                **action,
                "changes": [
                    {"attribute": k.lstrip("@"), "before": v.get("before"), "after": v.get("after")}
                    for k, v in (action.get("changes") or {}).items()
                    if isinstance(v, dict)
                ],
            }
        )
    ordered = sorted(groups.items(), key=lambda g: _transition_order(g[0]))
    context.update(
        groups=ordered,
        number=number,
        pages=pages,
        listed=len(would),
        unlisted=max(0, item["count"] - len(would)),
    )
    return context


def _transition_order(name: str) -> int:
    return TRANSITIONS.index(name) if name in TRANSITIONS else len(TRANSITIONS)


def _comment(form: dict[str, str]) -> str | None:
    text = " ".join(form.get("comment", "").split())[:2000]
    return text or None


def approve_held(request: Request, console: Console, user: User, form: dict[str, str]) -> Response:
    """Approve held work: checked again and carried out in the background, by this user."""
    loaded = _pipeline(request, console)
    held_id = int(request.path_params["held"])
    if not loaded.online:
        return console.refuse(request, 409, _offline(loaded), user)
    label, comment, as_of = loaded.label, _comment(form), console.as_of(loaded)

    def work() -> Any:
        try:
            decision = approve(
                console.job_engine(label),
                [held_id],
                as_of=as_of,
                time_travel=console.settings.time_travel,
                actor=user.name,
                comment=comment,
            )
        except LockHeld:
            raise ApprovalError(
                "another runner is enforcing this pipeline now; approve again when it is done"
            ) from None
        decision.report = None  # the run's plan is large; the state store has its outcome
        return decision

    console.jobs.start("approve", label, user.name, work, subject=str(held_id))
    return _redirect(request, "held_item", pipeline=label, held=held_id)


def reject_held(request: Request, console: Console, user: User, form: dict[str, str]) -> Response:
    """Reject held work: nothing runs; the decision is recorded with this user."""
    loaded = _pipeline(request, console)
    held_id = int(request.path_params["held"])
    try:
        decision = reject(
            loaded.store, loaded.label, held_id, actor=user.name, comment=_comment(form)
        )
    except ApprovalError as exc:
        request.session["flash"] = {"error": True, "text": str(exc)}
    else:
        request.session["flash"] = {"error": False, "text": f"rejected: {decision.message}"}
    return _redirect(request, "held_item", pipeline=loaded.label, held=held_id)


# --- persons --------------------------------------------------------------------------------


def persons(request: Request, console: Console, user: User) -> dict[str, Any] | Response:
    """Search persons by id, name or user name."""
    loaded = _pipeline(request, console)
    text = request.query_params.get("q", "").strip()[:200]
    found = queries.search_persons(loaded.store, text) if text else []
    return {**_base(loaded, "persons"), "q": text, "found": found}


def person(request: Request, console: Console, user: User) -> dict[str, Any] | Response:
    """One person: contracts in conditions per target, accounts, permissions, audit trail."""
    loaded = _pipeline(request, console)
    pid = request.path_params["person"]
    view = person_view(loaded.engine, pid, console.as_of(loaded))
    if view is None:
        return console.refuse(request, 404, f"person {pid!r} is not in the state store", user)
    trail = queries.audit_page(
        loaded.store,
        loaded.label,
        queries.AuditFilter(person=pid),
        before=_int(request.query_params.get("before")),
        after=_int(request.query_params.get("after")),
    )
    return {**_base(loaded, "persons"), "view": view, "trail": trail, "pid": pid}


# --- audit ----------------------------------------------------------------------------------


def audit(request: Request, console: Console, user: User) -> dict[str, Any]:
    """The audit trail, newest first, searched and filtered."""
    loaded = _pipeline(request, console)
    flt = queries.AuditFilter.from_query(request.query_params)
    problems = flt.problems()
    result = (
        queries.Page(rows=[])
        if problems
        else queries.audit_page(
            loaded.store,
            loaded.label,
            flt,
            before=_int(request.query_params.get("before")),
            after=_int(request.query_params.get("after")),
        )
    )
    return {
        **_base(loaded, "audit"),
        "filter": flt,
        "problems": problems,
        "page": result,
        "targets": list(loaded.pipeline.targets) + list(loaded.pipeline.sources),
        "kinds": [k.value for k in ActionKind] + list(_DECISION_KINDS),
        "statuses": [s.value for s in ActionStatus] + list(_DECISION_STATUSES),
    }


_CSV_COLUMNS = (
    "id",
    "run_id",
    "at",
    "target",
    "person",
    "kind",
    "status",
    "key",
    "reference",
    "changes",
    "messages",
    "dry_run",
    "actor",
)


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, list | dict):
        value = json.dumps(redact_data(value), ensure_ascii=False, default=str)
    text = redact(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv(request: Request, console: Console, user: User) -> Response:
    """The filtered audit trail as CSV (every matching record, streamed)."""
    loaded = _pipeline(request, console)
    flt = queries.AuditFilter.from_query(request.query_params)
    problems = flt.problems()
    if problems:
        return console.refuse(request, 400, "; ".join(problems), user)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_CSV_COLUMNS)
        for n, row in enumerate(queries.audit_rows(loaded.store, loaded.label, flt), 1):
            row["messages"] = "; ".join(str(m) for m in row.get("messages") or [])
            writer.writerow([_cell(row.get(c)) for c in _CSV_COLUMNS])
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{loaded.label}-{stamp}.csv"'},
    )


# --- reconcile ------------------------------------------------------------------------------


def reconcile(request: Request, console: Console, user: User) -> dict[str, Any]:
    """The last reconciliation's findings per target (read-only)."""
    loaded = _pipeline(request, console)
    job = console.jobs.latest("reconcile", loaded.label)
    return {**_base(loaded, "reconcile"), "job": job}


def compute_reconcile(
    request: Request, console: Console, user: User, form: dict[str, str]
) -> Response:
    """Reconcile now, read-only: list each target's accounts and compare; fix nothing."""
    loaded = _pipeline(request, console)
    if not loaded.online:
        return console.refuse(request, 409, _offline(loaded), user)
    label = loaded.label
    console.jobs.start(
        "reconcile",
        label,
        user.name,
        lambda: Reconciler(console.job_engine(label)).run(console.as_of(loaded)),
    )
    return _redirect(request, "reconcile", pipeline=label)


# --- routing --------------------------------------------------------------------------------


def _guard(view: Any) -> Any:
    """A view that answers 404 for an unknown pipeline."""

    def guarded(request: Request, console: Console, user: User, *rest: Any) -> Any:
        try:
            return view(request, console, user, *rest)
        except _NotFound as exc:
            return console.refuse(request, 404, str(exc), user)

    guarded.__doc__ = view.__doc__
    return guarded


def routes() -> list[Route]:
    """Every page and form of the console."""
    p = "/p/{pipeline}"
    return [
        Route("/", page("overview.html", _guard(overview)), name="overview"),
        Route(f"{p}/health", form_action(_guard(check_health)), methods=["POST"], name="health"),
        Route(f"{p}/runs", page("runs.html", _guard(runs)), name="runs"),
        Route(f"{p}/runs/{{run:int}}", page("run.html", _guard(run)), name="run"),
        Route(f"{p}/plan", page("plan.html", _guard(plan)), name="plan"),
        Route(f"{p}/plan", form_action(_guard(compute_plan)), methods=["POST"], name="plan_now"),
        Route(f"{p}/held", page("held.html", _guard(held)), name="held"),
        Route(
            f"{p}/held/{{held:int}}", page("held_item.html", _guard(held_item)), name="held_item"
        ),
        Route(
            f"{p}/held/{{held:int}}/approve",
            form_action(_guard(approve_held), role="approver"),
            methods=["POST"],
            name="approve",
        ),
        Route(
            f"{p}/held/{{held:int}}/reject",
            form_action(_guard(reject_held), role="approver"),
            methods=["POST"],
            name="reject",
        ),
        Route(f"{p}/persons", page("persons.html", _guard(persons)), name="persons"),
        Route(f"{p}/persons/{{person:path}}", page("person.html", _guard(person)), name="person"),
        Route(f"{p}/audit", page("audit.html", _guard(audit)), name="audit"),
        Route(f"{p}/audit.csv", page("", _guard(audit_csv)), name="audit_csv"),
        Route(f"{p}/reconcile", page("reconcile.html", _guard(reconcile)), name="reconcile"),
        Route(
            f"{p}/reconcile",
            form_action(_guard(compute_reconcile)),
            methods=["POST"],
            name="reconcile_now",
        ),
    ]
