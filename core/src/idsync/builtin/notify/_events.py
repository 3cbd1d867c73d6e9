"""A run's events as notifications see them, and the persons they are about."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from idsync.model import ActionEvent, ActionKind, ActionStatus, Person, RunSummary

if TYPE_CHECKING:
    from idsync.state import Store

_DONE: dict[ActionKind, str] = {
    ActionKind.CREATE: "created",
    ActionKind.CORRELATE: "linked",
    ActionKind.UPDATE: "updated",
    ActionKind.ENABLE: "enabled",
    ActionKind.DISABLE: "disabled",
    ActionKind.DELETE: "deleted",
    ActionKind.GRANT: "granted",
    ActionKind.REVOKE: "revoked",
}

_VERBS = {
    "created": "account created",
    "linked": "existing account linked",
    "updated": "account updated",
    "enabled": "account enabled",
    "disabled": "account disabled",
    "deleted": "account deleted",
}

_ADDRESS_SPLIT = re.compile(r"[,;\s]+")


@dataclass
class Notice:
    """One event as the rules and templates see it."""

    kind: str
    system: str | None
    person: str | None = None
    key: str | None = None
    action: str | None = None
    status: str | None = None
    messages: list[str] = field(default_factory=list)
    reference: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    held_id: int | None = None
    count: int | None = None

    def identity(self) -> tuple[Any, ...]:
        """What makes two notices the same (several rules may pick one event)."""
        return (
            self.kind,
            self.system,
            self.person,
            self.reference if self.person is None else None,
            self.key,
            self.action,
            self.held_id,
        )


def from_event(event: ActionEvent, dry_run: bool) -> Notice | None:
    """The notice of a finished action, or None when no rule can ask for it."""
    if event.status is ActionStatus.FAILED:
        kind = "failed"
    elif event.status is ActionStatus.DONE or (dry_run and event.status is ActionStatus.DRY_RUN):
        kind = _DONE.get(event.kind, "")
    else:
        return None
    if not kind:
        return None
    return Notice(
        kind=kind,
        system=event.system,
        person=event.person,
        key=event.target_key,
        action=event.kind.value,
        status=event.status.value,
        messages=list(event.messages),
        reference=event.reference,
        changes={k: v.model_dump(mode="json") for k, v in event.changes.items()},
    )


def run_notices(store: Store, summary: RunSummary, events: Iterable[ActionEvent]) -> list[Notice]:
    """Every notice of a run: its actions, the work held (with the ids to approve it by) and
    the persons a source blocked."""
    notices = [n for e in events if (n := from_event(e, summary.dry_run)) is not None]
    held = [] if summary.dry_run else store.held_in_runs([summary.run_id])
    for item in held:
        notices.append(
            Notice(
                kind="held",
                system=item["system"],
                key=item["kind"],
                messages=[item["reason"]],
                held_id=item["id"],
                count=item["count"],
            )
        )
    if not held:
        for text in summary.held:
            system, _, rest = text.partition(" ")
            kind, _, reason = rest.partition(": ")
            notices.append(Notice(kind="held", system=system, key=kind, messages=[reason]))
    for blocked in summary.blocked:
        notices.append(
            Notice(
                kind="blocked",
                system=blocked.source,
                person=blocked.person,
                key=blocked.field,
                messages=[f"{blocked.field}: {blocked.problem}"],
            )
        )
    return notices


@dataclass
class People:
    """Persons (from the state store's snapshots) and their managers, looked up in batches."""

    persons: dict[str, Person] = field(default_factory=dict)

    def manager(self, person: Person | None, as_of: dt.date) -> Person | None:
        """The person's manager (the engine's rule: :meth:`Person.manager_at`), if known."""
        ref = person.manager_at(as_of) if person is not None else None
        return self.persons.get(ref.external_id) if ref else None

    @classmethod
    def load(cls, store: Store, sources: Iterable[str], ids: set[str], as_of: dt.date) -> People:
        """The persons ``ids`` and their managers, from the first source that has each."""
        people = cls()
        sources = list(sources)
        people._fill(store, sources, ids)
        managers = {
            ref.external_id
            for pid in ids
            if (person := people.persons.get(pid)) is not None
            and (ref := person.manager_at(as_of)) is not None
        }
        people._fill(store, sources, managers)
        return people

    def _fill(self, store: Store, sources: list[str], ids: set[str]) -> None:
        missing = ids - set(self.persons)
        for source in sources:
            if not missing:
                return
            for pid, data in store.person_data(source, sorted(missing)).items():
                try:
                    self.persons[pid] = Person.model_validate(data)
                except ValidationError:
                    continue
            missing -= set(self.persons)


def _who(notice: Notice, person: Person | None) -> str:
    if notice.person is None:
        return f"account {notice.reference}" if notice.reference else "(no person)"
    if person is not None:
        return f"{person.display_name} ({notice.person})"
    return f"person {notice.person}"


def text(notice: Notice, person: Person | None, approve_hint: str) -> str:
    """One line saying what happened, for the default body and the webhook's ``text``."""
    who = _who(notice, person)
    detail = "; ".join(notice.messages)
    if notice.kind == "failed":
        what = f"{notice.action} {notice.key}" if notice.key else notice.action
        return f"{notice.system}: {what} failed for {who}: {detail}"
    if notice.kind == "held":
        hint = f" (approve: {approve_hint} {notice.held_id})" if notice.held_id else ""
        return f"{notice.system}: {notice.key} held: {detail}{hint}"
    if notice.kind == "blocked":
        return f"{notice.system}: person {notice.person} blocked: {detail}"
    if notice.kind in ("granted", "revoked"):
        preposition = "to" if notice.kind == "granted" else "from"
        return f"{notice.system}: {notice.key} {notice.kind} {preposition} {who}"
    return f"{notice.system}: {_VERBS.get(notice.kind, notice.kind)} for {who}"


def addresses(rendered: Any) -> list[str]:
    """The e-mail addresses in a rendered recipient template."""
    return [a for a in _ADDRESS_SPLIT.split(str(rendered or "")) if "@" in a]
