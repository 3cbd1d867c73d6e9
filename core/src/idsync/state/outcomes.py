"""The state store's record of what runs did: each action's audit record with its effect on
the shadows, in one transaction; the action journal (what a run started on a target, so a
killed run's work is found again); actions a plugin reported blocked; leavers looked up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idsync.secrets import redact, redact_data
from idsync.state import schema as t
from idsync.state.part import CHUNK as _CHUNK
from idsync.state.part import StorePart
from idsync.state.records import InDoubt, now
from idsync.state.search import folded_values

__all__ = ["Outcomes"]


# Recording runs once per action: the statements are built once, their values bound per call
# (SQLAlchemy then reuses the compiled statement instead of building and keying a new one).
_AUDIT_INSERT = t.audit.insert()
_PERMISSION_DELETE = t.permissions.delete().where(
    (t.permissions.c.target == sa.bindparam("w_target"))
    & (t.permissions.c.person == sa.bindparam("w_person"))
    & (t.permissions.c.key == sa.bindparam("w_key"))
)
_PERMISSION_INSERT = t.permissions.insert()
_RESOURCE_DELETE = t.resources.delete().where(
    (t.resources.c.target == sa.bindparam("w_target"))
    & (t.resources.c.key == sa.bindparam("w_key"))
)
_RESOURCE_INSERT = t.resources.insert()
_ACCOUNT_KEY = (t.accounts.c.target == sa.bindparam("w_target")) & (
    t.accounts.c.person == sa.bindparam("w_person")
)
_ACCOUNT_COLUMNS = frozenset(t.accounts.c.keys())
_ACCOUNT_EXISTS = sa.select(t.accounts.c.person).where(_ACCOUNT_KEY)
_ACCOUNT_INSERT = t.accounts.insert()
_ACCOUNT_UPDATE = t.accounts.update().where(_ACCOUNT_KEY)
_ACCOUNT_DELETE = t.accounts.delete().where(_ACCOUNT_KEY)
_ACCOUNT_PERMISSIONS_DELETE = t.permissions.delete().where(
    (t.permissions.c.target == sa.bindparam("w_target"))
    & (t.permissions.c.person == sa.bindparam("w_person"))
)
_BLOCKED_KEY = (
    (t.blocked_actions.c.target == sa.bindparam("w_target"))
    & (t.blocked_actions.c.person == sa.bindparam("w_person"))
    & (t.blocked_actions.c.kind == sa.bindparam("w_kind"))
    & (t.blocked_actions.c.key == sa.bindparam("w_key"))
)
_BLOCKED_DELETE = t.blocked_actions.delete().where(_BLOCKED_KEY)
_BLOCKED_INSERT = t.blocked_actions.insert()
_INTENT_INSERT = t.intents.insert()
_INTENT_FINISH = (
    t.intents.update()
    .where(t.intents.c.id == sa.bindparam("w_id"))
    .values(status=sa.bindparam("w_status"), finished=sa.bindparam("w_finished"))
)


class Outcomes(StorePart):
    """Recording outcomes, the action journal, blocked actions (a part of
    :class:`~idsync.state.Store`)."""

    # --- recording outcomes ----------------------------------------------------------

    def record(self, **entry: Any) -> None:
        """Write one action's audit record and, when it was done, its effect on the shadow,
        in one transaction (the keywords of :meth:`_record`)."""
        self.record_all([entry])

    def record_all(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Write several actions' records (each the keywords of :meth:`_record`) in one
        transaction: a create and the enable it did in the same request, say."""
        stamp = now()
        with self._write() as conn:
            for entry in entries:
                self._record(conn, stamp, **entry)

    def _record(
        self,
        conn: Connection,
        stamp: dt.datetime,
        *,
        run_id: int,
        target: str,
        person: str | None,
        kind: str,
        status: str,
        key: str | None = None,
        reference: str | None = None,
        changes: Mapping[str, Any] | None = None,
        messages: Iterable[str] = (),
        dry_run: bool = False,
        account: Mapping[str, Any] | None = None,
        blocked: tuple[str, dt.date] | None = None,
        unblocked: bool = False,
        intent: int | None = None,
    ) -> None:
        """Write one action's audit record and, when it was done, its effect on the shadow.

        ``account`` carries the shadow's new values for account actions
        (``reference``, ``data``, ``enabled``, ``disabled_on``, ``unique_base``,
        ``delete=True``; after a failure too, for ``delete=True``: a link to an account that
        is gone). ``blocked`` (fingerprint, date) remembers a blocked action; ``unblocked``
        forgets it once done; ``intent`` (from :meth:`start_intent`) is marked finished.
        """
        conn.execute(
            _AUDIT_INSERT,
            {
                "run_id": run_id,
                "at": stamp,
                "target": target,
                "person": person,
                "kind": kind,
                "status": status,
                "key": key,
                "reference": reference,
                "changes": redact_data(dict(changes or {})),
                "messages": redact_data(list(messages)),
                "dry_run": dry_run,
            },
        )
        if intent is not None:
            conn.execute(_INTENT_FINISH, {"w_id": intent, "w_status": status, "w_finished": stamp})
        if dry_run:
            return
        if kind == "resource":
            if status == "done" and key is not None:
                conn.execute(_RESOURCE_DELETE, {"w_target": target, "w_key": key})
                conn.execute(
                    _RESOURCE_INSERT,
                    {"target": target, "key": key, "reference": reference, "created": stamp},
                )
            return
        if person is None:
            return
        which = {"w_target": target, "w_person": person, "w_kind": kind, "w_key": key or ""}
        if status == "blocked" and blocked is not None:
            conn.execute(_BLOCKED_DELETE, which)
            conn.execute(
                _BLOCKED_INSERT,
                {
                    "target": target,
                    "person": person,
                    "kind": kind,
                    "key": key or "",
                    "fingerprint": blocked[0],
                    "message": redact("; ".join(messages))[:2000] or "blocked",
                    "since": blocked[1],
                    "run_id": run_id,
                },
            )
        elif status == "done":
            if unblocked:
                conn.execute(_BLOCKED_DELETE, which)
            if kind in ("grant", "revoke") and key is not None:
                conn.execute(
                    _PERMISSION_DELETE, {"w_target": target, "w_person": person, "w_key": key}
                )
                if kind == "grant":
                    conn.execute(
                        _PERMISSION_INSERT,
                        {
                            "target": target,
                            "person": person,
                            "key": key,
                            "reference": reference,
                            "granted": stamp,
                        },
                    )
            elif account is not None:
                self._apply_account(conn, target, person, dict(account), stamp)
        elif account is not None and account.get("delete"):
            self._apply_account(conn, target, person, dict(account), stamp)  # link gone

    def _apply_account(
        self, conn: Connection, target: str, person: str, values: dict[str, Any], stamp: dt.datetime
    ) -> None:
        which = {"w_target": target, "w_person": person}
        if values.pop("delete", False):
            conn.execute(_ACCOUNT_DELETE, which)
            conn.execute(_ACCOUNT_PERMISSIONS_DELETE, which)
            return
        unknown = set(values) - _ACCOUNT_COLUMNS
        if unknown:  # as building the statement from these values would refuse them
            raise sa.exc.CompileError(f"Unconsumed column names: {', '.join(sorted(unknown))}")
        existing = conn.execute(_ACCOUNT_EXISTS, which).first()
        if "data" in values:
            values["data"] = redact_data(values["data"])
            values["folded_values"] = folded_values(values["data"])
        if existing is None:
            conn.execute(
                _ACCOUNT_INSERT,
                {
                    "target": target,
                    "person": person,
                    "created": stamp,
                    "updated": stamp,
                    "data": values.pop("data", {}),
                    "enabled": values.pop("enabled", False),
                    **values,
                },
            )
        else:
            conn.execute(_ACCOUNT_UPDATE, {"updated": stamp, **values, **which})

    # --- the action journal ----------------------------------------------------------

    def start_intent(
        self,
        *,
        run_id: int,
        target: str,
        person: str | None,
        kind: str,
        key: str | None,
        reference: str | None,
    ) -> int:
        """Record that an action is about to call its target; returns the intent's id, which
        :meth:`record` marks finished in the same transaction as the action's outcome."""
        (intent,) = self.start_intents(
            run_id=run_id, target=target, actions=[(person, kind, key, reference)]
        )
        return intent

    def start_intents(
        self,
        *,
        run_id: int,
        target: str,
        actions: Iterable[tuple[str | None, str, str | None, str | None]],
    ) -> list[int]:
        """:meth:`start_intent` for several actions ``(person, kind, key, reference)`` in one
        transaction; their ids, in order."""
        stamp = now()
        ids = []
        with self._write() as conn:
            for person, kind, key, reference in actions:
                result = conn.execute(
                    _INTENT_INSERT,
                    {
                        "run_id": run_id,
                        "target": target,
                        "person": person,
                        "kind": kind,
                        "key": key,
                        "reference": reference,
                        "started": stamp,
                        "status": "started",
                    },
                )
                ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
        return ids

    def in_doubt(self, targets: Iterable[str], before_run: int | None = None) -> list[InDoubt]:
        """The actions started and never finished, in ``targets`` (of runs before
        ``before_run``): what a crash or a failed store left undecided."""
        i = t.intents.c
        query = sa.select(i.run_id, i.target, i.person, i.kind, i.key, i.reference).where(
            (i.status == "started") & i.target.in_(list(targets))
        )
        if before_run is not None:
            query = query.where(i.run_id < before_run)
        with self.engine.connect() as conn:
            return [InDoubt(*row) for row in conn.execute(query.order_by(i.id))]

    def resolve_in_doubt(
        self, targets: Iterable[str], run_id: int, keep_creates: Iterable[str] = ()
    ) -> int:
        """Mark the actions in doubt of ``targets`` (from runs before ``run_id``) resolved:
        that run planned them again from what it read; creates in ``keep_creates`` targets
        stay in doubt. Returns how many."""
        i = t.intents.c
        kept = list(keep_creates)
        where = (i.status == "started") & i.target.in_(list(targets)) & (i.run_id < run_id)
        if kept:
            where &= ~((i.kind == "create") & i.target.in_(kept))
        with self._write() as conn:
            result = conn.execute(
                t.intents.update().where(where).values(status="resolved", finished=now())
            )
            return int(result.rowcount or 0)

    # --- blocked actions and leavers looked up ------------------------------------------

    def block(
        self,
        *,
        run_id: int,
        target: str,
        person: str,
        kind: str,
        key: str | None,
        fingerprint: str,
        message: str,
        on: dt.date,
    ) -> None:
        """Remember an action as blocked (without an audit record of its own)."""
        which = {"w_target": target, "w_person": person, "w_kind": kind, "w_key": key or ""}
        with self._write() as conn:
            conn.execute(_BLOCKED_DELETE, which)
            conn.execute(
                _BLOCKED_INSERT,
                {
                    "target": target,
                    "person": person,
                    "kind": kind,
                    "key": key or "",
                    "fingerprint": fingerprint,
                    "message": redact(message)[:2000] or "blocked",
                    "since": on,
                    "run_id": run_id,
                },
            )

    def checked(self, target: str) -> dict[str, str]:
        """``{person: value hash}`` of the leavers looked up in ``target`` without a match."""
        c = t.checked_leavers.c
        query = sa.select(c.person, c.value).where(c.target == target)
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def remember_checked(self, target: str, checked: Mapping[str, str], on: dt.date) -> None:
        """Remember leavers looked up in ``target`` without a match (person → value hash)."""
        if not checked:
            return
        c = t.checked_leavers.c
        people = list(checked)
        with self._write() as conn:
            for i in range(0, len(people), _CHUNK):
                conn.execute(
                    t.checked_leavers.delete().where(
                        (c.target == target) & c.person.in_(people[i : i + _CHUNK])
                    )
                )
            conn.execute(
                t.checked_leavers.insert(),
                [
                    {"target": target, "person": p, "value": v, "checked": on}
                    for p, v in checked.items()
                ],
            )
