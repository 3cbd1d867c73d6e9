"""Import: stream every source, validate each person, compare with the last snapshot.

A row that cannot become a valid person is *blocked* with the person, the field and the problem;
the others go on, and a blocked person who was known before keeps their previous data (a typo in
HR never deprovisions anyone). A person the source no longer lists is kept with their last data
while they are *missing*, until the source's grace (``missing: {days, imports}``) is over; only
then are they gone. A manager loop blocks the manager links in it, not the persons.

Source thresholds (:mod:`idsync.thresholds`) compare the new import with the last accepted
snapshot (persons newly missing, persons added, persons with fields emptied) and hold the whole
import when exceeded. An import of nobody, or one missing more than half of the persons, after a
snapshot with persons in it, is always held, whatever the thresholds say.

Several sources merge into one person set by external id: the first source listed has
precedence for a person's fields, and contracts are the union of all sources' contracts (the
first source wins for a contract id both know).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pydantic import ValidationError

from idsync import collector
from idsync.config import SourceConfig
from idsync.model import Blocked, Department, HookContext, Person, validation_problem
from idsync.plugins import System
from idsync.secrets import redact
from idsync.state import Missing, Store
from idsync.thresholds import exceeded

__all__ = ["SourceImport", "fingerprint", "import_source", "merge", "stored_import"]


class SourceError(Exception):
    """A source could not be read at all (the import fails, nothing downstream changes)."""


@dataclass
class SourceImport:
    """One source's import: valid persons, departments, blocked rows and the comparison."""

    source: str
    persons: dict[str, Person] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    blocked: list[Blocked] = field(default_factory=list)
    changed: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    """``{person: (hash, data)}`` of the persons that differ from the last snapshot."""
    removed: set[str] = field(default_factory=set)
    """Persons gone from the snapshot: missing for longer than the source's grace."""
    missing: dict[str, Missing] = field(default_factory=dict)
    """Persons not listed now, kept with their last data until the grace is over."""
    returned: set[str] = field(default_factory=set)
    """Persons listed again after they were missing."""
    counts: dict[str, int] = field(default_factory=dict)
    held: str | None = None
    """Why the import is held, or None."""


def _digest(person: Person) -> str:
    """The person's fingerprint: equal for equal data, whatever order a source listed it in
    (``extra`` is kept sorted by name; every other field has its place in the model)."""
    return hashlib.blake2b(person.model_dump_json().encode(), digest_size=16).hexdigest()


def fingerprint(imp: SourceImport) -> str:
    """One import's content as a hash: its persons, departments, blocked rows and missing
    persons. Two imports with equal fingerprints plan alike (saved plans compare them)."""
    digest = hashlib.blake2b(digest_size=16)
    for pid in sorted(imp.persons):
        digest.update(f"p\0{pid}\0{_digest(imp.persons[pid])}\0".encode())
    for dep_id in sorted(imp.departments):
        digest.update(f"d\0{dep_id}\0{imp.departments[dep_id].model_dump_json()}\0".encode())
    for b in sorted(imp.blocked, key=lambda b: (b.person, b.field)):
        digest.update(f"b\0{b.person}\0{b.field}\0{b.problem}\0".encode())
    for pid in sorted(imp.removed):
        digest.update(f"r\0{pid}\0".encode())
    for pid in sorted(imp.missing):
        digest.update(f"m\0{pid}\0".encode())
    return digest.hexdigest()


def _snapshot_data(person: Person) -> dict[str, Any]:
    """What the snapshot stores of a person."""
    return person.model_dump(mode="json", exclude_defaults=True)


class _Changed(Mapping[str, tuple[str, Any]]):
    """``{person: (hash, data)}`` of the changed persons, the data dumped when it is read.

    A first import changes every person; holding each one's snapshot data from the
    comparison until the snapshot is stored would double the import's memory. The persons
    do not change in between, so dumping again gives the data that was hashed.
    """

    def __init__(self, persons: Mapping[str, Person]) -> None:
        self._persons = persons
        self._hashes: dict[str, str] = {}

    def add(self, person: str, digest: str) -> None:
        self._hashes[person] = digest

    def __getitem__(self, person: str) -> tuple[str, Any]:
        return self._hashes[person], _snapshot_data(self._persons[person])

    def __contains__(self, person: object) -> bool:
        return person in self._hashes

    def __iter__(self) -> Iterator[str]:
        return iter(self._hashes)

    def __len__(self) -> int:
        return len(self._hashes)


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
        f"{_loc(p['loc'])}: {validation_problem(p)}" if i else validation_problem(p)
        for i, p in enumerate(problems[:5])
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


def _manager_loop(pid: str, persons: Mapping[str, Person]) -> list[str] | None:
    """The manager chain from ``pid`` back to ``pid`` when ``pid`` is part of a loop."""
    chain = [pid]
    cursor = persons.get(pid)
    while cursor is not None and cursor.manager is not None:
        nxt = cursor.manager.external_id
        if nxt == pid:
            return chain
        if nxt in chain:
            return None  # a loop further up the chain, without this person in it
        chain.append(nxt)
        cursor = persons.get(nxt)
    return None


def _check_relations(imp: SourceImport) -> None:
    """Block persons whose contracts name an unknown department, and the manager links of a
    manager loop (the persons in it go on without a manager). Decided on the whole import
    first, so the outcome does not depend on the order the source listed the persons in."""
    known = imp.departments
    problems: dict[str, tuple[str, str]] = {}
    loops: dict[str, list[str]] = {}
    for pid, person in imp.persons.items():
        if known:
            for i, contract in enumerate(person.contracts):
                dep = contract.department
                if dep is not None and dep.external_id and dep.external_id not in known:
                    problems[pid] = (
                        f"contracts.{i}.department",
                        f"department {dep.external_id!r} is not among the source's departments",
                    )
                    break
        if pid not in problems and person.manager is not None:
            loop = _manager_loop(pid, imp.persons)
            if loop is not None:
                loops[pid] = loop
    for pid, (where, problem) in problems.items():
        del imp.persons[pid]
        imp.blocked.append(Blocked(person=pid, field=where, problem=problem, source=imp.source))
    for pid, loop in loops.items():
        looping = imp.persons.get(pid)
        if looping is None:
            continue
        in_loop = set(loop)
        # A copy without the looping links: the source's objects may be shared.
        imp.persons[pid] = looping.model_copy(
            update={
                "manager": None,
                "contracts": [
                    c.model_copy(update={"manager": None})
                    if c.manager is not None and c.manager.external_id in in_loop
                    else c
                    for c in looping.contracts
                ],
            }
        )
        shown = " → ".join([*loop, pid])
        imp.blocked.append(
            Blocked(
                person=pid,
                field="manager",
                problem=f"the manager chain loops back: {shown}; the manager link is left out",
                source=imp.source,
                scope="manager",
            )
        )


def import_source(
    system: System,
    config: SourceConfig,
    store: Store,
    ctx: HookContext,
    progress: Callable[[int], None] | None = None,
) -> SourceImport:
    """Read one source through its plugin and compare it with the last accepted snapshot."""
    with collector.paused():
        return _import_source(system, config, store, ctx, progress)


_SHARED_REFS = (
    "department",
    "title",
    "cost_center",
    "employer",
    "location",
    "type",
    "manager",
)


class _Shared:
    """One object for each distinct department, title, cost center, employer, location,
    contract type and manager reference of an import, shared by the contracts naming it.

    A source repeats the same few dozen of them on every contract: held once, 100,000
    persons take half the memory. The engine reads them and never changes them.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], Any] = {}

    def share(self, person: Person) -> None:
        seen = self._seen
        for contract in person.contracts:
            fields = contract.__dict__
            for field_name in _SHARED_REFS:
                ref = fields[field_name]
                if ref is None:
                    continue
                # Equal values: interchangeable (nothing reads which fields a source gave).
                key = (ref.__class__, *ref.__dict__.values())
                shared = seen.get(key)
                if shared is None:
                    seen[key] = ref
                elif shared is not ref:
                    fields[field_name] = shared  # the field is set already: no validation due


def _import_source(
    system: System,
    config: SourceConfig,
    store: Store,
    ctx: HookContext,
    progress: Callable[[int], None] | None,
) -> SourceImport:
    name = system.name
    imp = SourceImport(source=name)
    shared = _Shared()
    try:
        for dep_index, raw in enumerate(system.hook.idsync_departments(ctx=ctx) or ()):
            try:
                dep = raw if isinstance(raw, Department) else Department.model_validate(raw)
            except ValidationError as exc:
                what = (
                    _label(raw, dep_index) if isinstance(raw, Mapping) else f"(row {dep_index + 1})"
                )
                problems = "; ".join(
                    f"{_loc(p['loc'])}: {validation_problem(p)}" for p in exc.errors()[:5]
                )
                logger.bind(system=name).warning(
                    "department {} skipped: {}", what, redact(problems)
                )
                continue
            imp.departments[dep.external_id] = dep
        duplicates: set[str] = set()
        for index, row in enumerate(system.hook.idsync_persons(ctx=ctx) or ()):
            if progress is not None:
                progress(1)
            if isinstance(row, Blocked):
                row.source = row.source or name
                row.person = row.person[:100]
                imp.blocked.append(row)
                continue
            try:
                person = Person.model_validate(row)
            except ValidationError as exc:  # named as the row names itself (the row as read)
                imp.blocked.append(_blocked_from(exc, _label(row, index), name))
                continue
            if person.external_id in imp.persons or person.external_id in duplicates:
                duplicates.add(person.external_id)
                imp.persons.pop(person.external_id, None)
                continue
            person.source = name
            shared.share(person)
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
    # A person the source also reports as blocked (say, a second row with the same id) is
    # not taken from the row that did validate: which of the two is right is unknown.
    for blocked in imp.blocked:
        imp.persons.pop(blocked.person, None)
    _check_relations(imp)
    listed = len(imp.persons)

    previous = store.person_hashes(name)
    was_missing = store.missing(name) if previous else {}
    present_before = len(previous) - len(was_missing)
    blocked_ids = {b.person for b in imp.blocked if b.scope == "person"}
    # A blocked person who was known keeps their previous data: nothing is taken from them.
    kept = (blocked_ids & set(previous)) - set(imp.persons)
    absent = set(previous) - set(imp.persons) - kept
    newly_missing = absent - set(was_missing)
    imp.returned = set(was_missing) & set(imp.persons)
    for pid in absent:
        known = was_missing.get(pid)
        if known is None:
            mark = Missing(ctx.as_of, 1, ctx.as_of)
        elif known.last < ctx.as_of:  # several imports on one day count once
            mark = Missing(known.since, known.imports + 1, ctx.as_of)
        else:
            mark = known
        grace = config.missing
        if (ctx.as_of - mark.since).days >= grace.days and mark.imports >= grace.imports:
            imp.removed.add(pid)
        else:
            imp.missing[pid] = mark
    if kept or imp.missing:
        for pid, data in store.person_data(name, kept | set(imp.missing)).items():
            try:
                imp.persons[pid] = Person.model_validate(data)
            except ValidationError:
                continue
    changed = _Changed(imp.persons)
    for pid, person in imp.persons.items():
        if pid in kept or pid in imp.missing:
            continue
        digest = _digest(person)
        if previous.get(pid) != digest:
            changed.add(pid, digest)
    imp.changed = changed
    added = [pid for pid in imp.changed if pid not in previous]
    updated = [pid for pid in imp.changed if pid in previous]
    emptied = 0
    if updated:
        before = store.person_data(name, updated)
        emptied = sum(1 for pid in updated if _emptied(before.get(pid), imp.changed[pid][1]))
    imp.counts = {
        "persons": listed,
        "blocked": len(imp.blocked),
        "added": len(added),
        "removed": len(newly_missing),
        "missing": len(imp.missing),
        "gone": len(imp.removed),
        "changed": len(updated),
        "emptied": emptied,
        "previous": present_before,
    }
    if present_before:
        imp.held = _check_thresholds(config, imp.counts)
    return imp


_LABELS = {
    "removed": "persons missing from the import",
    "added": "persons added",
    "emptied": "persons with fields emptied",
}


def _check_thresholds(config: SourceConfig, counts: Mapping[str, int]) -> str | None:
    """Why the import is held (the safety rules first, then the thresholds), or None."""
    base = counts["previous"]
    if counts["persons"] == 0:
        return (
            f"the import lists nobody, after a snapshot of {base} persons "
            "(always held: a source that answers with nothing is not taken as everyone leaving)"
        )
    if counts["removed"] * 2 > base:
        return (
            f"{counts['removed']} of {base} persons are missing from the import "
            "(always held: more than half)"
        )
    limits = {k: t for k in _LABELS if (t := getattr(config.thresholds, k)) is not None}
    reasons = [
        f"{over.count} {_LABELS[over.key]} (of {base}; the threshold is {over.threshold})"
        for over in exceeded(limits, counts, base)
    ]
    return "; ".join(reasons) or None


def merge(imports: list[SourceImport]) -> tuple[dict[str, Person], dict[str, Department]]:
    """One person set from several sources, by external id, in precedence order."""
    if len(imports) == 1:
        return dict(imports[0].persons), dict(imports[0].departments)
    persons: dict[str, Person] = {}
    departments: dict[str, Department] = {}
    merged: set[str] = set()
    for imp in imports:
        for dep_id, dep in imp.departments.items():
            departments.setdefault(dep_id, dep)
        for pid, person in imp.persons.items():
            first = persons.get(pid)
            if first is None:
                persons[pid] = person  # shared with the import until a second source adds to it
                continue
            if pid not in merged:
                # The merged person gets lists of its own; contracts and references stay shared.
                first = persons[pid] = first.model_copy(
                    update={"contracts": list(first.contracts), "extra": dict(first.extra)}
                )
                merged.add(pid)
            known = {c.external_id for c in first.contracts}
            first.contracts.extend(c for c in person.contracts if c.external_id not in known)
            for key, value in person.extra.items():
                first.extra.setdefault(key, value)
    return persons, departments


def stored_import(store: Store, source: str) -> SourceImport:
    """A source's last accepted snapshot as an import that changes nothing."""
    imp = SourceImport(source=source)
    for pid, data in store.person_data(source).items():
        try:
            imp.persons[pid] = Person.model_validate(data)
        except ValidationError:
            continue
    for dep_id, data in store.departments(source).items():
        try:
            imp.departments[dep_id] = Department.model_validate(data)
        except ValidationError:
            continue
    imp.counts = {
        "persons": len(imp.persons),
        "blocked": 0,
        "added": 0,
        "removed": 0,
        "changed": 0,
        "emptied": 0,
        "previous": len(imp.persons),
    }
    return imp
