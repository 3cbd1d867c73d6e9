"""The state store's accounts as the runs left them: references, shadows, unique values,
permissions, resources and blocked actions, per target."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from idsync import collector
from idsync.state import schema as t
from idsync.state.part import CHUNK as _CHUNK
from idsync.state.part import StorePart
from idsync.state.records import AccountState, BlockedAction


class Accounts(StorePart):
    """Accounts, permissions and resources per target (a part of :class:`~idsync.state.Store`)."""

    # --- accounts, permissions, resources --------------------------------------------

    def accounts(self, target: str) -> dict[str, AccountState]:
        """Every account shadow of a target with its granted permissions, by person."""
        a, p = t.accounts.c, t.permissions.c
        shadows = sa.select(
            a.person, a.reference, a.data, a.enabled, a.disabled_on, a.unique_base
        ).where(a.target == target)
        granted = sa.select(p.person, p.key, p.reference).where(p.target == target)
        # Every account's data has the same few keys and every grant of a group the same key
        # and reference: each distinct string is held once, not once per account or grant.
        shared: dict[str, str] = {}
        with collector.paused(), self.engine.connect() as conn:
            # Fetched in batches and unpacked as tuples: a nightly run reads every shadow, and
            # the rows' own copies of the data are let go batch by batch.
            out = {
                person: AccountState(
                    person=person,
                    reference=reference,
                    data={shared.setdefault(k, k): v for k, v in data.items()} if data else {},
                    enabled=bool(enabled),
                    disabled_on=disabled_on,
                    unique_base=unique_base,
                )
                for person, reference, data, enabled, disabled_on, unique_base in conn.execute(
                    shadows.execution_options(yield_per=2000)
                )
            }
            for person, key, reference in conn.execute(granted):
                account = out.get(person)
                if account is not None:
                    account.permissions[shared.setdefault(key, key)] = (
                        reference if reference is None else shared.setdefault(reference, reference)
                    )
        return out

    def account_data(self, target: str, persons: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{person: data}`` of the given persons' account shadows in one target."""
        a = t.accounts.c
        query = sa.select(a.person, a.data).where(a.target == target)
        wanted = list(persons)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                part = query.where(a.person.in_(wanted[i : i + _CHUNK]))
                out.update({row[0]: row[1] or {} for row in conn.execute(part)})
        return out

    def account(self, target: str, person: str) -> AccountState | None:
        """One account shadow, or None."""
        return self.accounts_of(person).get(target)

    def accounts_of(self, person: str) -> dict[str, AccountState]:
        """``{target: shadow}`` for one person."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.accounts).where(t.accounts.c.person == person))
            out = {
                row.target: AccountState(
                    person=person,
                    reference=row.reference,
                    data=row.data or {},
                    enabled=bool(row.enabled),
                    disabled_on=row.disabled_on,
                    unique_base=row.unique_base,
                )
                for row in rows
            }
            perms = conn.execute(sa.select(t.permissions).where(t.permissions.c.person == person))
            for row in perms:
                if row.target in out:
                    out[row.target].permissions[row.key] = row.reference
        return out

    def unique_values(self, target: str, attribute: str) -> dict[Any, str]:
        """``{value: person}`` of a unique attribute over a target's accounts."""
        query = sa.select(t.accounts.c.person, t.accounts.c.data).where(
            t.accounts.c.target == target
        )
        with self.engine.connect() as conn:
            out: dict[Any, str] = {}
            for person, data in conn.execute(query):
                value = (data or {}).get(attribute)
                if value not in (None, ""):
                    out[value] = person
            return out

    def references(self, target: str) -> dict[str, str | None]:
        """``{person: account reference}`` of a target's accounts (no data, no permissions)."""
        query = sa.select(t.accounts.c.person, t.accounts.c.reference).where(
            t.accounts.c.target == target
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def resources(self, target: str) -> dict[str, str | None]:
        """``{key: reference}`` of the resources ensured in a target."""
        query = sa.select(t.resources.c.key, t.resources.c.reference).where(
            t.resources.c.target == target
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def blocked_actions(self, target: str) -> dict[tuple[str, str, str], BlockedAction]:
        """``{(person, kind, key): blocked action}`` of a target (``key`` empty when none)."""
        b = t.blocked_actions.c
        query = sa.select(b.person, b.kind, b.key, b.fingerprint, b.message, b.since).where(
            b.target == target
        )
        with self.engine.connect() as conn:
            return {
                (person, kind, key): BlockedAction(fingerprint, message, since)
                for person, kind, key, fingerprint, message, since in conn.execute(query)
            }

    def count_accounts(self, target: str) -> int:
        """How many accounts idsync manages in a target."""
        query = (
            sa.select(sa.func.count()).select_from(t.accounts).where(t.accounts.c.target == target)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
