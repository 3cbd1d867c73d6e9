"""Import: stream every source, validate each person, compare with the last snapshot.

A row that cannot become a valid person is *blocked* with the person, the field and the problem;
the others go on, and a blocked person who was known before keeps their previous data (a typo in
HR never deprovisions anyone). Source thresholds compare the new snapshot with the last accepted
one (persons removed, persons added, persons with fields emptied) and hold the whole import when
exceeded. Several sources merge into one person set by external id: the first source listed has
precedence for a person's fields, and contracts are the union of all sources' contracts (the
first source wins for a contract id both know).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pydantic import ValidationError

from idsync.config import SourceConfig
from idsync.model import Blocked, Department, HookContext, Person
from idsync.plugins import System
from idsync.secrets import redact
from idsync.state import Store

__all__ = ["SourceImport", "import_source", "merge"]


class SourceError(Exception):
    """A source could not be read at all (the import fails, nothing downstream changes)."""


@dataclass
class SourceImport:
    """One source's import: valid persons, departments, blocked rows and the comparison."""

    source: str
    persons: dict[str, Person] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    blocked: list[Blocked] = field(default_factory=list)
    changed: dict[str, tuple[str, Any]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    held: str | None = None
    """Why the import is held, or None."""


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _label(row: Mapping[str, Any], index: int) -> str:
    value = row.get("external_id") if isinstance(row, Mapping) else None
    if isinstance(value, str | int) and str(value).strip():
        return redact(str(value))[:100]
    return f"(row {index + 1})"


def _loc(parts: Iterable[int | str]) -> str:
    return ".".join(str(p) for p in parts) or "(person)"


def _blocked_from(error: ValidationError, person: str, source: str) -> Blocked:
    problems = error.errors()
    first = problems[0]
    detail = "; ".join(
        f"{_loc(p['loc'])}: {p['msg']}" if i else p["msg"] for i, p in enumerate(problems[:5])
    )
    return Blocked(
        person=person, field=_loc(first["loc"]), problem=redact(detail)[:500], source=source
    )


def _leaves(data: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, f"{prefix}.{i}")
    else:
        yield prefix, data


def _emptied(before: Any, after: Any) -> bool:
    now = dict(_leaves(after))
    return any(
        value not in (None, "", [], {}) and now.get(path) in (None, "")
        for path, value in _leaves(before)
    )


def _check_relations(imp: SourceImport) -> None:
    """Block persons whose contracts name an unknown department or who manage themselves."""
    known = imp.departments
    for pid, person in list(imp.persons.items()):
        problem: tuple[str, str] | None = None
        if known:
            for i, contract in enumerate(person.contracts):
                dep = contract.department
                if dep is not None and dep.external_id and dep.external_id not in known:
                    problem = (
                        f"contracts.{i}.department",
                        f"department {dep.external_id!r} is not among the source's departments",
                    )
                    break
        if problem is None and person.manager is not None:
            seen = {pid}
            cursor: Person | None = person
            while cursor is not None and cursor.manager is not None:
                nxt = cursor.manager.external_id
                if nxt in seen:
                    problem = ("manager", f"the manager chain loops back through {nxt}")
                    break
                seen.add(nxt)
                cursor = imp.persons.get(nxt)
        if problem is not None:
            del imp.persons[pid]
            imp.blocked.append(
                Blocked(person=pid, field=problem[0], problem=problem[1], source=imp.source)
            )


def import_source(
    system: System,
    config: SourceConfig,
    store: Store,
    ctx: HookContext,
    progress: Callable[[int], None] | None = None,
) -> SourceImport:
    """Read one source through its plugin and compare it with the last accepted snapshot."""
    name = system.name
    imp = SourceImport(source=name)
    try:
        for raw in system.hook.idsync_departments(ctx=ctx) or ():
            try:
                dep = raw if isinstance(raw, Department) else Department.model_validate(raw)
            except ValidationError as exc:
                logger.bind(system=name).warning("department skipped: {}", redact(str(exc)))
                continue
            imp.departments[dep.external_id] = dep
        duplicates: set[str] = set()
        for index, row in enumerate(system.hook.idsync_persons(ctx=ctx) or ()):
            if progress is not None:
                progress(1)
            if isinstance(row, Blocked):
                row.source = row.source or name
                imp.blocked.append(row)
                continue
            label = _label(row, index)
            try:
                person = Person.model_validate(row)
            except ValidationError as exc:
                imp.blocked.append(_blocked_from(exc, label, name))
                continue
            if person.external_id in imp.persons or person.external_id in duplicates:
                duplicates.add(person.external_id)
                imp.persons.pop(person.external_id, None)
                continue
            person.source = name
            imp.persons[person.external_id] = person
    except Exception as exc:
        raise SourceError(f"source {name}: reading failed: {redact(str(exc))}") from exc
    for pid in sorted(duplicates):
        imp.blocked.append(
            Blocked(
                person=pid,
                field="external_id",
                problem="appears more than once in the source",
                source=name,
            )
        )
    _check_relations(imp)

    previous = store.person_hashes(name)
    blocked_ids = {b.person for b in imp.blocked}
    new_ids = set(imp.persons)
    # A blocked person who was known keeps their previous data: nothing is taken from them.
    kept = (blocked_ids & set(previous)) - new_ids
    if kept:
        for pid, data in store.person_data(name, kept).items():
            try:
                imp.persons[pid] = Person.model_validate(data)
            except ValidationError:
                continue
    hashes: dict[str, str] = {}
    for pid, person in imp.persons.items():
        if pid in kept:
            hashes[pid] = previous[pid]
            continue
        data = person.model_dump(mode="json", exclude_defaults=True)
        digest = _digest(data)
        hashes[pid] = digest
        if previous.get(pid) != digest:
            imp.changed[pid] = (digest, data)
    imp.removed = set(previous) - set(imp.persons)
    added = [pid for pid in imp.changed if pid not in previous]
    updated = [pid for pid in imp.changed if pid in previous]
    emptied = 0
    if updated:
        before = store.person_data(name, updated)
        emptied = sum(1 for pid in updated if _emptied(before.get(pid), imp.changed[pid][1]))
    imp.counts = {
        "persons": len(imp.persons),
        "blocked": len(imp.blocked),
        "added": len(added),
        "removed": len(imp.removed),
        "changed": len(updated),
        "emptied": emptied,
        "previous": len(previous),
    }
    if previous:
        imp.held = _check_thresholds(config, imp.counts)
    return imp


def _check_thresholds(config: SourceConfig, counts: Mapping[str, int]) -> str | None:
    base = counts["previous"]
    reasons = []
    for what in ("removed", "added", "emptied"):
        threshold = getattr(config.thresholds, what)
        if threshold is None:
            continue
        limit = threshold.limit(base)
        if limit is not None and counts[what] > limit:
            label = "persons with fields emptied" if what == "emptied" else f"persons {what}"
            reasons.append(f"{counts[what]} {label} (of {base}; the threshold is {threshold})")
    return "; ".join(reasons) or None


def merge(imports: list[SourceImport]) -> tuple[dict[str, Person], dict[str, Department]]:
    """One person set from several sources, by external id, in precedence order."""
    if len(imports) == 1:
        return dict(imports[0].persons), dict(imports[0].departments)
    persons: dict[str, Person] = {}
    departments: dict[str, Department] = {}
    for imp in imports:
        for dep_id, dep in imp.departments.items():
            departments.setdefault(dep_id, dep)
        for pid, person in imp.persons.items():
            first = persons.get(pid)
            if first is None:
                persons[pid] = person.model_copy(deep=True)
                continue
            known = {c.external_id for c in first.contracts}
            first.contracts.extend(c for c in person.contracts if c.external_id not in known)
            for key, value in person.extra.items():
                first.extra.setdefault(key, value)
    return persons, departments


def today() -> dt.date:
    """The local date (the default ``as_of``)."""
    return dt.date.today()
