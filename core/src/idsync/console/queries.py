"""The console's reads of the state store: paged, filtered, and cheap at any size.

Lists page by key (``id`` below or above a cursor), never by offset, so the thousandth page
costs what the first does; every filter a page offers has an index behind it (migration
0004). Audit records belong to a pipeline through their run: when the store holds the runs
of one pipeline only (the usual case), no join is needed, and none is made.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from idsync.state import Store
from idsync.state import schema as t
from idsync.state.search import fold

__all__ = [
    "AuditFilter",
    "Page",
    "audit_page",
    "audit_rows",
    "decided_held",
    "display_names",
    "last_blocked",
    "run_actions",
    "run_row",
    "runs_chart",
    "runs_page",
    "search_persons",
]

PAGE = 50
_SHARED_TTL = 60.0
_shared: dict[tuple[str, str], tuple[float, bool]] = {}


@dataclass
class Page:
    """One page of rows and the cursors of the pages around it (None: there is none)."""

    rows: list[dict[str, Any]]
    next: str | None = None
    previous: str | None = None
    searched: tuple[int, int] | None = None
    """For a text search: the ids of the records this page read."""


def _shared_store(store: Store, pipeline: str) -> bool:
    """Whether the store holds runs of other pipelines too (asked once a minute)."""
    key = (store.url, pipeline)
    now = time.monotonic()
    known = _shared.get(key)
    if known is not None and now - known[0] < _SHARED_TTL:
        return known[1]
    query = sa.select(t.runs.c.id).where(t.runs.c.pipeline != pipeline).limit(1)
    with store.engine.connect() as conn:
        shared = conn.execute(query).first() is not None
    _shared[key] = (now, shared)
    return shared


def _of_pipeline(store: Store, pipeline: str) -> sa.ColumnElement[bool]:
    if not _shared_store(store, pipeline):
        return sa.true()
    return t.audit.c.run_id.in_(sa.select(t.runs.c.id).where(t.runs.c.pipeline == pipeline))


# --- runs -----------------------------------------------------------------------------------


def runs_page(
    store: Store,
    pipeline: str,
    *,
    command: str | None = None,
    status: str | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE,
) -> Page:
    """The pipeline's runs, newest first, a page at a time."""
    r = t.runs.c
    query = sa.select(t.runs).where(r.pipeline == pipeline)
    if command:
        query = query.where(r.command == command)
    if status:
        query = query.where(r.status == status)
    return _keyset(store, query, r.id, before, after, limit)


def _keyset(
    store: Store,
    query: sa.Select[Any],
    column: sa.ColumnElement[int],
    before: int | None,
    after: int | None,
    limit: int,
) -> Page:
    """Rows by ``column`` descending: the ``limit`` below ``before``, or above ``after``."""
    if after is not None:
        query = query.where(column > after).order_by(column.asc()).limit(limit + 1)
    else:
        if before is not None:
            query = query.where(column < before)
        query = query.order_by(column.desc()).limit(limit + 1)
    with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    if after is not None:
        rows.reverse()
        newer, older = more, True
    else:
        newer, older = before is not None, more
    if not rows:
        return Page(rows=[])
    key = column.key or "id"
    return Page(
        rows=rows,
        next=str(rows[-1][key]) if older else None,
        previous=str(rows[0][key]) if newer else None,
    )


def run_row(store: Store, pipeline: str, run_id: int) -> dict[str, Any] | None:
    """One run of the pipeline, or None."""
    query = sa.select(t.runs).where(t.runs.c.id == run_id, t.runs.c.pipeline == pipeline)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def runs_chart(store: Store, pipeline: str, limit: int = 30) -> list[dict[str, Any]]:
    """The last ``limit`` runs (oldest first) with their counts, for the chart."""
    r = t.runs.c
    query = (
        sa.select(r.id, r.started, r.command, r.status, r.dry_run, r.counts)
        .where(r.pipeline == pipeline)
        .order_by(r.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    rows.reverse()
    return rows


def run_actions(
    store: Store,
    run_id: int,
    *,
    target: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    person: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
) -> Page:
    """One run's audit records, failures first, then the rest in the order they ran."""
    a = t.audit.c
    base = sa.select(t.audit).where(a.run_id == run_id)
    if target:
        base = base.where(a.target == target)
    if kind:
        base = base.where(a.kind == kind)
    if person:
        base = base.where(a.person == person)
    if status and status != "failed":
        base = base.where(a.status == status)
    phase, _, last_text = (cursor or "f:0").partition(":")
    last = int(last_text) if last_text.isdigit() else 0
    if phase not in ("f", "o"):
        phase, last = "f", 0
    rows: list[dict[str, Any]] = []
    with store.engine.connect() as conn:
        if phase == "f" and status in (None, "", "failed"):
            query = base.where(a.status == "failed", a.id > last).order_by(a.id).limit(limit + 1)
            rows = [dict(row._mapping) for row in conn.execute(query)]
            if len(rows) > limit:
                return Page(rows=rows[:limit], next=f"f:{rows[limit - 1]['id']}")
            phase, last = "o", 0
        if status == "failed":
            return Page(rows=rows)
        need = limit - len(rows)
        query = base.where(a.status != "failed", a.id > last).order_by(a.id).limit(need + 1)
        more = [dict(row._mapping) for row in conn.execute(query)]
    rows += more[:need]
    return Page(rows=rows, next=f"o:{more[need - 1]['id']}" if len(more) > need else None)


def last_blocked(store: Store, pipeline: str) -> tuple[int | None, list[dict[str, Any]]]:
    """The persons blocked in the pipeline's last stored plan: ``(run, [blocked…])``."""
    r, p = t.runs.c, t.plans.c
    last = (
        sa.select(sa.func.max(p.run_id))
        .join(t.runs, r.id == p.run_id)
        .where(r.pipeline == pipeline)
        .scalar_subquery()
    )
    query = sa.select(p.run_id, p.data["blocked"]).where(p.run_id == last)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None, []
    blocked = row[1] if isinstance(row[1], list) else []
    return int(row[0]), [b for b in blocked if isinstance(b, dict)]


# --- audit ----------------------------------------------------------------------------------


@dataclass
class AuditFilter:
    """What the audit page filters on; empty fields do not filter."""

    person: str = ""
    target: str = ""
    kind: str = ""
    status: str = ""
    actor: str = ""
    run: str = ""
    q: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def from_query(cls, params: Any) -> AuditFilter:
        """From a request's query parameters (unknown ones are ignored)."""
        return cls(**{f.name: str(params.get(f.name, "")).strip()[:200] for f in fields(cls)})

    def as_query(self) -> dict[str, str]:
        """The filters that are set, as query parameters."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def problems(self) -> list[str]:
        """What is wrong with the filters, in words."""
        out = []
        if self.run and not self.run.isdigit():
            out.append(f"run {self.run!r} is not a run number")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    out.append(f"{name} {value!r} is not a date of the form YYYY-MM-DD")
        return out

    def where(self) -> list[sa.ColumnElement[bool]]:
        """The filters as SQL conditions (call :meth:`problems` first)."""
        a = t.audit.c
        out: list[sa.ColumnElement[bool]] = []
        for name in ("person", "target", "kind", "status", "actor"):
            value = getattr(self, name)
            if value:
                out.append(getattr(a, name) == value)
        if self.run.isdigit():
            out.append(a.run_id == int(self.run))
        if self.since:
            out.append(a.at >= _day_start(self.since))
        if self.until:
            out.append(a.at < _day_start(self.until) + dt.timedelta(days=1))
        if self.q:
            text = self.q.lower()
            out.append(
                sa.or_(
                    sa.func.lower(a.key).contains(text, autoescape=True),
                    sa.func.lower(a.reference).contains(text, autoescape=True),
                    sa.func.lower(sa.cast(a.messages, sa.Text)).contains(text, autoescape=True),
                )
            )
        return out


def _day_start(value: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)


TEXT_WINDOW = 100_000
"""How many audit records one page of a text search reads at most (the rest on the next)."""


def audit_page(
    store: Store,
    pipeline: str,
    audit_filter: AuditFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE,
    window: int | None = TEXT_WINDOW,
) -> Page:
    """Audit records of the pipeline, newest first, filtered, a page at a time.

    A text search (``q``) has no index to use: each page reads at most ``window`` records
    (from the cursor on), and offers the next window when it found fewer than a page there,
    so a search answers as fast in a million records as in a thousand, a window at a time.
    """
    a = t.audit.c
    query = sa.select(t.audit).where(_of_pipeline(store, pipeline), *audit_filter.where())
    if not audit_filter.q or window is None:
        return _keyset(store, query, a.id, before, after, limit)
    if after is not None:
        upper = after + window
        page = _keyset(store, query.where(a.id <= upper), a.id, before, after, limit)
        page.searched = (after + 1, upper)
        if page.previous is None and _exists(store, a.id > upper):
            page.previous = str(upper)
        return page
    start = before if before is not None else _newest(store) + 1
    lower = max(1, start - window)
    page = _keyset(store, query.where(a.id >= lower), a.id, start, None, limit)
    page.searched = (lower, start - 1)
    if before is None:
        page.previous = None
    if page.next is None and lower > 1:
        page.next = str(lower)
    return page


def _newest(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(t.audit.c.id))).scalar() or 0)


def _exists(store: Store, condition: sa.ColumnElement[bool]) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.audit.c.id).where(condition).limit(1)).first() is not None


def audit_rows(
    store: Store, pipeline: str, audit_filter: AuditFilter, chunk: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every matching audit record, newest first, read a chunk at a time (for export)."""
    before: int | None = None
    while True:
        page = audit_page(store, pipeline, audit_filter, before=before, limit=chunk, window=None)
        yield from page.rows
        if page.next is None:
            return
        before = int(page.next)


# --- persons --------------------------------------------------------------------------------


def search_persons(store: Store, text: str, limit: int = PAGE) -> list[dict[str, Any]]:
    """Persons whose id starts with ``text``, whose name contains it (diacritics and case
    aside), or one of whose accounts has an attribute containing it (a user name, an
    e-mail address). Each with its display name and what matched."""
    text = text.strip()
    if not text:
        return []
    p, a = t.persons.c, t.accounts.c
    folded = fold(text)
    found: dict[str, set[str]] = {}
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # binary order: a range on the index is a prefix
            prefix = sa.and_(p.external_id >= text, p.external_id < text + "\U0010ffff")
        else:
            prefix = p.external_id.startswith(text, autoescape=True)
        by_id = sa.select(p.external_id).where(prefix).distinct().limit(limit)
        for (pid,) in conn.execute(by_id):
            found.setdefault(pid, set()).add("id")
        if folded:
            by_name = (  # not DISTINCT: it would read the table instead of the index alone
                sa.select(p.external_id)
                .where(p.folded_name.contains(folded, autoescape=True))
                .limit(limit * 2)
            )
            for (pid,) in conn.execute(by_name):
                found.setdefault(pid, set()).add("name")
        if folded:
            by_account = (
                sa.select(a.person, a.target)
                .where(a.folded_values.contains(folded, autoescape=True))
                .limit(limit)
            )
            for pid, target in conn.execute(by_account):
                found.setdefault(pid, set()).add(f"account in {target}")
        ids = sorted(found)[:limit]
        names: dict[str, str] = {}
        sources: dict[str, list[str]] = {}
        if ids:
            rows = conn.execute(
                sa.select(p.external_id, p.source, p.data).where(p.external_id.in_(ids))
            )
            for pid, source, data in rows:
                sources.setdefault(pid, []).append(source)
                if isinstance(data, dict) and data.get("display_name"):
                    names.setdefault(pid, str(data["display_name"]))
    return [
        {
            "id": pid,
            "name": names.get(pid),
            "sources": sorted(sources.get(pid, [])),
            "matched": sorted(found[pid]),
        }
        for pid in ids
    ]


def display_names(store: Store, ids: list[str]) -> dict[str, str]:
    """``{person: display name}`` for the given persons (one query per 500)."""
    p = t.persons.c
    wanted = sorted(set(ids))
    out: dict[str, str] = {}
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), 500):
            query = sa.select(p.external_id, p.data).where(p.external_id.in_(wanted[i : i + 500]))
            for pid, data in conn.execute(query):
                if isinstance(data, dict) and data.get("display_name"):
                    out.setdefault(pid, str(data["display_name"]))
    return out


# --- held work ------------------------------------------------------------------------------


def decided_held(store: Store, pipeline: str, limit: int = 20) -> list[dict[str, Any]]:
    """The pipeline's latest decided (or superseded) held items, newest first."""
    h = t.held.c
    query = (
        sa.select(t.held)
        .where(h.pipeline == pipeline, h.status != "held")
        .order_by(h.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
