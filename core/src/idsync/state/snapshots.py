"""The state store's source snapshots: the last accepted import of every source, persons
missing from it, and imports held by a source's thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idsync.state import schema as t
from idsync.state.part import CHUNK as _CHUNK
from idsync.state.part import StorePart
from idsync.state.records import Missing, now
from idsync.state.search import fold

__all__ = ["Snapshots"]


class Snapshots(StorePart):
    """Source snapshots (a part of :class:`~idsync.state.Store`)."""

    # --- source snapshots ------------------------------------------------------------

    def person_hashes(self, source: str) -> dict[str, str]:
        """``{external_id: hash}`` of the source's last accepted snapshot."""
        query = sa.select(t.persons.c.external_id, t.persons.c.hash).where(
            t.persons.c.source == source
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def person_data(self, source: str, ids: Iterable[str] | None = None) -> dict[str, Any]:
        """``{external_id: person data}`` of the source's last accepted snapshot."""
        query = sa.select(t.persons.c.external_id, t.persons.c.data).where(
            t.persons.c.source == source
        )
        with self.engine.connect() as conn:
            if ids is None:
                return {row[0]: row[1] for row in conn.execute(query)}
            wanted = list(ids)
            out: dict[str, Any] = {}
            for i in range(0, len(wanted), _CHUNK):
                part = query.where(t.persons.c.external_id.in_(wanted[i : i + _CHUNK]))
                out.update({row[0]: row[1] for row in conn.execute(part)})
            return out

    def missing(self, source: str) -> dict[str, Missing]:
        """The persons the source's latest imports did not have, still kept in its snapshot."""
        p = t.persons.c
        query = sa.select(p.external_id, p.missing_since, p.missing_imports, p.missing_last).where(
            (p.source == source) & p.missing_since.is_not(None)
        )
        with self.engine.connect() as conn:
            return {
                pid: Missing(since, int(imports or 0), last or since)
                for pid, since, imports, last in conn.execute(query)
            }

    def persons_of(self, external_id: str) -> dict[str, Any]:
        """``{source: data}`` for one person across sources."""
        query = sa.select(t.persons.c.source, t.persons.c.data).where(
            t.persons.c.external_id == external_id
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def accept_snapshot(
        self,
        source: str,
        run_id: int,
        changed: Mapping[str, tuple[str, Any]],
        removed: Iterable[str],
        departments: Mapping[str, Any],
        counts: Mapping[str, int],
        missing: Mapping[str, Missing] | None = None,
        returned: Iterable[str] = (),
    ) -> None:
        """Make a new snapshot the source's current one: upsert ``changed``, drop ``removed``,
        mark ``missing`` persons (kept with their last data) and clear the mark of those
        ``returned``."""
        stamp = now()
        removed = list(removed)
        p = t.persons.c
        with self._write() as conn:
            marks = [
                {
                    "w_id": pid,
                    "missing_since": m.since,
                    "missing_imports": m.imports,
                    "missing_last": m.last,
                }
                for pid, m in (missing or {}).items()
            ] + [
                {"w_id": pid, "missing_since": None, "missing_imports": 0, "missing_last": None}
                for pid in returned
            ]
            if marks:
                conn.execute(
                    t.persons.update()
                    .where((p.source == source) & (p.external_id == sa.bindparam("w_id")))
                    .values(
                        missing_since=sa.bindparam("missing_since"),
                        missing_imports=sa.bindparam("missing_imports"),
                        missing_last=sa.bindparam("missing_last"),
                    ),
                    marks,
                )
            ids = list(changed)
            for i in range(0, len(ids), _CHUNK):
                part = ids[i : i + _CHUNK]
                conn.execute(
                    t.persons.delete().where(
                        t.persons.c.source == source, t.persons.c.external_id.in_(part)
                    )
                )
                rows = []
                for pid in part:
                    digest, data = changed[pid]  # read once: the data may be made on reading
                    rows.append(
                        {
                            "source": source,
                            "external_id": pid,
                            "hash": digest,
                            "data": data,
                            "updated": stamp,
                            "folded_name": fold(str(data.get("display_name") or "")),
                        }
                    )
                conn.execute(t.persons.insert(), rows)
            for i in range(0, len(removed), _CHUNK):
                conn.execute(
                    t.persons.delete().where(
                        t.persons.c.source == source,
                        t.persons.c.external_id.in_(removed[i : i + _CHUNK]),
                    )
                )
            conn.execute(t.departments.delete().where(t.departments.c.source == source))
            if departments:
                conn.execute(
                    t.departments.insert(),
                    [
                        {"source": source, "external_id": k, "data": v}
                        for k, v in departments.items()
                    ],
                )
            self._snapshot(conn, source, run_id, "accepted", counts)

    def hold_snapshot(self, source: str, run_id: int, counts: Mapping[str, int]) -> None:
        """Record that a source's new snapshot was held by its thresholds."""
        with self._write() as conn:
            self._snapshot(conn, source, run_id, "held", counts)

    def _snapshot(
        self, conn: Connection, source: str, run_id: int, status: str, counts: Mapping[str, int]
    ) -> None:
        conn.execute(
            t.snapshots.insert().values(
                run_id=run_id,
                source=source,
                taken=now(),
                status=status,
                persons=counts.get("persons", 0),
                blocked=counts.get("blocked", 0),
                added=counts.get("added", 0),
                removed=counts.get("removed", 0),
                changed=counts.get("changed", 0),
                emptied=counts.get("emptied", 0),
            )
        )

    def departments(self, source: str) -> dict[str, Any]:
        """``{external_id: department data}`` of the source's last accepted snapshot."""
        query = sa.select(t.departments.c.external_id, t.departments.c.data).where(
            t.departments.c.source == source
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def has_snapshot(self, source: str) -> bool:
        """Whether the source was ever imported and accepted."""
        query = (
            sa.select(t.snapshots.c.id)
            .where(t.snapshots.c.source == source, t.snapshots.c.status == "accepted")
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None
