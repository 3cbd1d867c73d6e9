"""The state store's runs: their start and finish, their plans, the audit trail they wrote and
the persons they blocked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from idsync.secrets import redact, redact_data
from idsync.state import schema as t
from idsync.state.part import StorePart
from idsync.state.records import now

EXIT_CRASHED = 1


class Runs(StorePart):
    """Runs, their audit trail and the persons they blocked (a part of
    :class:`~idsync.state.Store`)."""

    # --- runs ------------------------------------------------------------------------

    def start_run(self, pipeline: str, command_name: str, as_of: dt.date, dry_run: bool) -> int:
        """Record the start of a run and return its id."""
        with self._write() as conn:
            result = conn.execute(
                t.runs.insert().values(
                    pipeline=pipeline,
                    command=command_name,
                    started=now(),
                    as_of=as_of,
                    dry_run=dry_run,
                    status="running",
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(
        self, run_id: int, status: str, exit_code: int, counts: Mapping[str, Any]
    ) -> None:
        """Record how a run ended."""
        with self._write() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(finished=now(), status=status, exit_code=exit_code, counts=dict(counts))
            )

    def close_abandoned_runs(self, pipeline: str) -> int:
        """Mark the pipeline's enforcing runs (``run`` and ``reconcile``, not dry) still
        ``running`` as ``crashed``.

        Called by a runner that holds the pipeline's lock: no other enforcing run of it can be
        alive, so one still marked running was killed. Returns how many were closed.
        """
        with self._write() as conn:
            result = conn.execute(
                t.runs.update()
                .where(
                    (t.runs.c.pipeline == pipeline)
                    & (t.runs.c.status == "running")
                    & (t.runs.c.dry_run == sa.false())
                )
                .values(status="crashed", finished=now(), exit_code=EXIT_CRASHED)
            )
            return int(result.rowcount or 0)

    def last_enforced(self, pipeline: str) -> dt.date | None:
        """The latest ``as_of`` an enforcing run (``run`` or ``reconcile``, not dry) of the
        pipeline was dated: time moves forward only from there."""
        r = t.runs.c
        query = sa.select(sa.func.max(r.as_of)).where(
            (r.pipeline == pipeline)
            & (r.dry_run == sa.false())
            & r.command.in_(("run", "reconcile"))
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return value if isinstance(value, dt.date) else None

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
        if pipeline:
            query = query.where(t.runs.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
            return dict(row._mapping) if row else None

    def knows_person(self, person: str) -> bool:
        """Whether the store has seen ``person``: in a snapshot, an account, the audit trail
        or the blocked list."""
        with self.engine.connect() as conn:
            for column in (
                t.persons.c.external_id,
                t.accounts.c.person,
                t.audit.c.person,
                t.blocked.c.person,
            ):
                query = sa.select(sa.literal(1)).where(column == person).limit(1)
                if conn.execute(query).first() is not None:
                    return True
        return False

    def save_plan(self, run_id: int, data: Any) -> None:
        """Store the plan a run made."""
        with self._write() as conn:
            conn.execute(t.plans.insert().values(run_id=run_id, data=redact_data(data)))

    # --- audit -----------------------------------------------------------------------

    def audit(
        self,
        *,
        person: str | None = None,
        target: str | None = None,
        run_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Audit records, newest first, filtered as asked."""
        query = sa.select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
        if person is not None:
            query = query.where(t.audit.c.person == person)
        if target is not None:
            query = query.where(t.audit.c.target == target)
        if run_id is not None:
            query = query.where(t.audit.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def audit_counts(self, run_id: int) -> dict[str, dict[str, int]]:
        """``{status: {kind: n}}`` for one run."""
        query = (
            sa.select(t.audit.c.status, t.audit.c.kind, sa.func.count())
            .where(t.audit.c.run_id == run_id)
            .group_by(t.audit.c.status, t.audit.c.kind)
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for status, kind, n in conn.execute(query):
                out.setdefault(status, {})[kind] = int(n)
        return out

    # --- blocked persons ---------------------------------------------------------------

    def replace_blocked(self, pipeline: str, run_id: int, blocked: Iterable[Any]) -> None:
        """Make ``blocked`` (:class:`~idsync.model.Blocked` items) the pipeline's blocked
        persons, keeping when each was first blocked for the same field and problem."""
        stamp = now()
        b = t.blocked.c
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for item in blocked:
            rows[(item.person, item.field)] = {
                "pipeline": pipeline,
                "person": item.person[:200],
                "field": item.field[:500],
                "source": item.source,
                "problem": redact(item.problem),
                "run_id": run_id,
                "since": stamp,
            }
        with self._write() as conn:
            earlier = conn.execute(
                sa.select(b.person, b.field, b.problem, b.since).where(b.pipeline == pipeline)
            )
            for person, field_name, problem, since in earlier:
                row = rows.get((person, field_name))
                if row is not None and row["problem"] == problem:
                    row["since"] = since
            conn.execute(t.blocked.delete().where(b.pipeline == pipeline))
            if rows:
                conn.execute(t.blocked.insert(), list(rows.values()))

    def blocked_of(self, person: str) -> list[dict[str, Any]]:
        """Why ``person`` is blocked (in any pipeline of this store), by the last run."""
        query = sa.select(t.blocked).where(t.blocked.c.person == person).order_by(t.blocked.c.field)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
