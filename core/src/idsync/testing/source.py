"""The contract of a source plugin, checked against a live endpoint.

A source streams persons in the shape of :class:`~idsync.model.Person` and blocks the rows it
cannot translate with a reason (person, field, problem); :func:`source_contract` returns a
pytest class that checks exactly that, read-only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any, ClassVar

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from idsync.model import Blocked, Department, Person, validation_problem
from idsync.testing.contract import Contract, caller_module, needs
from idsync.testing.harness import SourceHarness
from idsync.testing.spec import PersonLike, SettingsFactory, SourceSpec, WritesProbe

__all__ = ["SourceContract", "source_contract"]


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(person)'}: {validation_problem(e)}"
        for e in error.errors()
    )


def _well_formed(blocked: list[Blocked]) -> None:
    vague = [
        str(b) for b in blocked if not (b.person.strip() and b.field.strip() and b.problem.strip())
    ]
    assert not vague, (
        f"idsync_persons: blocked rows must name the person, the field and the problem: {vague}"
    )


def _validated(row: Any) -> Person:
    """The person a yielded item stands for, validated: a yielded :class:`Person` is trusted by
    the engine as it is, so the kit checks that it would pass validation from its data."""
    return Person.model_validate(row.model_dump() if isinstance(row, Person) else row)


def _differences(want: Any, got: Any, path: str = "") -> list[str]:
    """Where ``got`` differs from ``want``; a mapping in ``want`` names only what it checks."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path or '(root)'}: {want!r}, {got!r}"]
        found = []
        for key, value in want.items():
            where = f"{path}.{key}" if path else str(key)
            found += _differences(value, got.get(key), where)
        return found
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: {len(want)} item(s), {got!r}"]
        return [d for i, w in enumerate(want) for d in _differences(w, got[i], f"{path}.{i}")]
    return [] if want == got else [f"{path}: {want!r}, {got!r}"]


def _valid_ids(rows: list[Any]) -> list[str]:
    ids = []
    for row in rows:
        try:
            ids.append(_validated(row).external_id)
        except ValidationError:
            continue
    return ids


class SourceContract(Contract):
    """Every check of the source contract (made for one plugin by :func:`source_contract`)."""

    spec: ClassVar[SourceSpec]
    harness: ClassVar[type[SourceHarness]] = SourceHarness

    @classmethod
    def check_spec(cls, spec: Any, hooks: frozenset[str]) -> None:
        if "idsync_persons" not in hooks:
            name = getattr(spec.plugin, "__name__", repr(spec.plugin))
            raise TypeError(f"source contract of {name}: the plugin implements no idsync_persons")

    @needs("idsync_persons")
    def test_persons_are_valid_and_blocked_rows_say_why(
        self, idsync_contract: SourceHarness
    ) -> None:
        """Every yielded person is valid, external ids are unique, and every
        blocked row names the person, the field and the problem. Reading writes nothing."""
        h = idsync_contract
        with h.read_only("idsync_persons"):
            rows, blocked = h.read()
        problems = []
        ids: Counter[str] = Counter()
        for index, row in enumerate(rows):
            try:
                person = _validated(row)
            except ValidationError as exc:
                who = row.external_id if isinstance(row, Person) else row.get("external_id", "?")
                problems.append(f"row {index} (external_id {who!r}): {_errors(exc)}")
            else:
                ids[person.external_id] += 1
        assert not problems, (
            "idsync_persons yielded persons that are not valid (block them instead):\n"
            + "\n".join(problems[:10])
        )
        twice = sorted(i for i, n in ids.items() if n > 1)
        assert not twice, f"idsync_persons yielded external ids more than once: {twice[:10]}"
        assert len(ids) >= h.spec.min_persons, (
            f"idsync_persons yielded {len(ids)} valid person(s); the endpoint should hold at "
            f"least {h.spec.min_persons}"
        )
        _well_formed(blocked)

    @needs("idsync_persons", spec="bad_row")
    def test_a_bad_row_is_blocked_with_a_reason(self, idsync_contract: SourceHarness) -> None:
        """A row the author breaks is blocked naming that person, with a field and a problem,
        and every other person still comes through."""
        h = idsync_contract
        rows, _ = h.read()
        before = set(_valid_ids(rows))
        expected = h.inject_bad_row()
        rows, blocked = h.read()
        named = [b for b in blocked if b.person == expected]
        assert named, (
            f"idsync_persons: no blocked row names {expected!r}; a row that cannot become a "
            f"valid person is blocked, naming it. Blocked: {[str(b) for b in blocked][:10]}"
        )
        _well_formed(named)
        lost = sorted(before - {expected} - set(_valid_ids(rows)))
        assert not lost, f"idsync_persons: one bad row cost other persons too: {lost[:10]}"

    @needs("idsync_departments")
    def test_departments_are_valid(self, idsync_contract: SourceHarness) -> None:
        """Departments validate, their external ids are unique, and every parent is one of
        them. Reading writes nothing."""
        h = idsync_contract
        with h.read_only("idsync_departments"):
            items = h.call("idsync_departments", ctx=h.ctx())
        departments: list[Department] = []
        problems = []
        for index, item in enumerate(items):
            try:
                departments.append(
                    item if isinstance(item, Department) else Department.model_validate(item)
                )
            except ValidationError as exc:
                problems.append(f"department {index}: {_errors(exc)}")
        assert not problems, "idsync_departments yielded departments that are not valid:\n" + (
            "\n".join(problems[:10])
        )
        ids = Counter(d.external_id for d in departments)
        twice = sorted(i for i, n in ids.items() if n > 1)
        assert not twice, f"idsync_departments yielded ids more than once: {twice[:10]}"
        orphans = sorted(
            f"{d.external_id} (parent {d.parent})"
            for d in departments
            if d.parent is not None and d.parent not in ids
        )
        assert not orphans, (
            f"idsync_departments: departments whose parent is not a department: {orphans[:10]}"
        )

    @needs("idsync_persons", spec="persons")
    def test_persons_hold_what_the_endpoint_holds(self, idsync_contract: SourceHarness) -> None:
        """Each person the spec's ``persons`` names comes through with the values given
        there (a mapping in the shape of :class:`~idsync.model.Person`, as much as known),
        so a field the source loses on the way is caught."""
        h = idsync_contract
        rows, _ = h.read()
        yielded = {}
        for row in rows:
            with suppress(ValidationError):
                person = _validated(row)
                yielded[person.external_id] = person.model_dump(mode="json")
        for expected in h.expected("persons"):
            want = to_jsonable_python(
                expected.model_dump() if isinstance(expected, Person) else expected
            )
            who = want.get("external_id")
            assert who in yielded, f"idsync_persons did not yield the person {who!r}"
            differ = _differences(want, yielded[who])
            assert not differ, (
                f"idsync_persons: person {who} does not hold what the endpoint holds "
                "(path: expected, yielded): " + "; ".join(differ[:10])
            )

    @needs("idsync_departments", spec="departments")
    def test_departments_hold_what_the_endpoint_holds(self, idsync_contract: SourceHarness) -> None:
        """Each department the spec's ``departments`` names comes through with those values."""
        h = idsync_contract
        items = h.call("idsync_departments", ctx=h.ctx())
        yielded = {}
        for item in items:
            with suppress(ValidationError):
                department = (
                    item if isinstance(item, Department) else Department.model_validate(item)
                )
                yielded[department.external_id] = department.model_dump(mode="json")
        for expected in h.expected("departments"):
            want = to_jsonable_python(expected)
            which = want.get("external_id")
            assert which in yielded, f"idsync_departments did not yield the department {which!r}"
            differ = _differences(want, yielded[which])
            assert not differ, (
                f"idsync_departments: department {which} does not hold what the endpoint "
                "holds (path: expected, yielded): " + "; ".join(differ[:10])
            )


def source_contract(
    plugin: Callable[..., Any],
    settings: SettingsFactory,
    *,
    writes: WritesProbe | None = None,
    bad_row: Callable[..., str] | None = None,
    min_persons: int = 1,
    persons: Callable[..., Iterable[PersonLike]] | None = None,
    departments: Callable[..., Iterable[Mapping[str, Any]]] | None = None,
    refused_settings: SettingsFactory | None = None,
    cleanup: Callable[..., Any] | None = None,
    fixtures: Sequence[str] = (),
    as_of: dt.date | None = None,
    system: str | None = None,
) -> type[SourceContract]:
    """A pytest class checking ``plugin``'s source contract against a live endpoint.

    Every callable's arguments name pytest fixtures (``unique`` is the kit's: a new short text
    per call). ``settings`` returns the settings model or a mapping validated by it.
    ``writes`` (optional) returns the writes the endpoint has seen, to prove reading is
    read-only. ``bad_row`` puts one broken row in the endpoint and returns the person the
    block must name (``Blocked.person``). ``min_persons`` is how many valid persons the
    endpoint holds at least. ``persons`` returns persons the endpoint holds (mappings in the
    shape of :class:`~idsync.model.Person`, with as much as is known of each), which the
    source must yield with those values; ``departments`` the same for departments.
    ``refused_settings`` returns settings whose credentials the endpoint refuses (default:
    every ``SecretStr`` setting replaced). ``cleanup`` is called after every check with
    ``created`` (what ``bad_row`` added is the author's to remove). ``fixtures`` are more
    fixtures every check uses (e.g. one that seeds the endpoint); ``as_of`` is ``ctx.as_of``.
    """
    spec = SourceSpec(
        plugin=plugin,
        settings=settings,
        writes=writes,
        fixtures=tuple(fixtures),
        as_of=as_of,
        system=system,
        bad_row=bad_row,
        min_persons=min_persons,
        persons=persons,
        departments=departments,
        refused_settings=refused_settings,
        cleanup=cleanup,
    )
    name = f"{getattr(plugin, '__name__', 'Plugin')}SourceContract"
    return type(name, (SourceContract,), {"spec": spec, "__module__": caller_module()})
