"""The state store's held work: what a threshold held, the approvals and rejections that
decide it, and the orphan accounts reconciliation is told to allow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from idsync.secrets import redact_data
from idsync.state import schema as t
from idsync.state.part import CHUNK as _CHUNK
from idsync.state.part import StorePart
from idsync.state.records import now


class HeldWork(StorePart):
    """Held work, its decisions, and reconciliation's exclusions (a part of
    :class:`~idsync.state.Store`)."""

    # --- held work -------------------------------------------------------------------

    def hold(
        self,
        *,
        run_id: int,
        pipeline: str,
        system: str,
        kind: str,
        reason: str,
        count: int,
        detail: Any = None,
    ) -> int:
        """Record held work (an import or an action kind) and return its id."""
        with self._write() as conn:
            result = conn.execute(
                t.held.insert().values(
                    run_id=run_id,
                    pipeline=pipeline,
                    system=system,
                    kind=kind,
                    reason=reason,
                    count=count,
                    status="held",
                    created=now(),
                    detail=redact_data(detail),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def held(
        self, pipeline: str | None = None, status: str | None = "held"
    ) -> list[dict[str, Any]]:
        """Held work, newest first."""
        query = sa.select(t.held).order_by(t.held.c.id.desc())
        if pipeline is not None:
            query = query.where(t.held.c.pipeline == pipeline)
        if status is not None:
            query = query.where(t.held.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def supersede_held(self, pipeline: str, system: str, kind: str) -> None:
        """Close earlier held records of the same kind: a newer run re-evaluated them."""
        with self._write() as conn:
            conn.execute(
                t.held.update()
                .where(
                    (t.held.c.pipeline == pipeline)
                    & (t.held.c.system == system)
                    & (t.held.c.kind == kind)
                    & (t.held.c.status == "held")
                )
                .values(status="superseded", decided=now())
            )

    # --- reconciliation and approvals --------------------------------------------------

    def held_item(self, held_id: int) -> dict[str, Any] | None:
        """One held record (whatever its status), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.held).where(t.held.c.id == held_id)).first()
            return dict(row._mapping) if row else None

    def held_in_runs(self, run_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The held records the given runs made, oldest first."""
        wanted = list(run_ids)
        if not wanted:
            return []
        query = sa.select(t.held).where(t.held.c.run_id.in_(wanted)).order_by(t.held.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def decide_held(
        self,
        held_id: int,
        status: str,
        run_id: int | None = None,
        *,
        actor: str | None = None,
        comment: str | None = None,
        audit: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Mark held work ``approved`` (carried out by ``run_id``) or ``rejected``, by
        ``actor`` with ``comment``.

        ``audit`` are the decision's audit records (``run_id``, ``target``, ``person``,
        ``kind``, ``status``, ``key``, ``messages``), written with ``actor`` in the same
        transaction: who decided stands in the audit trail beside what was done.
        """
        stamp = now()
        with self._write() as conn:
            conn.execute(
                t.held.update()
                .where(t.held.c.id == held_id)
                .values(
                    status=status,
                    decided=stamp,
                    decided_run=run_id,
                    decided_by=actor,
                    comment=redact_data(comment),
                )
            )
            rows = [
                {
                    "run_id": record["run_id"],
                    "at": stamp,
                    "target": record["target"],
                    "person": record.get("person"),
                    "kind": record["kind"],
                    "status": record["status"],
                    "key": record.get("key"),
                    "reference": record.get("reference"),
                    "changes": {},
                    "messages": redact_data(list(record.get("messages") or [])),
                    "dry_run": False,
                    "actor": actor,
                }
                for record in audit
            ]
            for i in range(0, len(rows), _CHUNK):
                conn.execute(t.audit.insert(), rows[i : i + _CHUNK])

    def exclude(
        self,
        target: str,
        reference: str,
        until: dt.date,
        *,
        reason: str | None = None,
        label: str | None = None,
    ) -> None:
        """Allow an account no person owns in ``target`` until ``until`` (inclusive)."""
        where = (t.exclusions.c.target == target) & (t.exclusions.c.reference == reference)
        with self._write() as conn:
            conn.execute(t.exclusions.delete().where(where))
            conn.execute(
                t.exclusions.insert().values(
                    target=target,
                    reference=reference,
                    label=label,
                    until=until,
                    reason=reason,
                    created=now(),
                )
            )

    def exclusions(self, target: str | None = None) -> list[dict[str, Any]]:
        """Orphan exclusions (expired ones too), by target and reference."""
        query = sa.select(t.exclusions).order_by(t.exclusions.c.target, t.exclusions.c.reference)
        if target is not None:
            query = query.where(t.exclusions.c.target == target)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
