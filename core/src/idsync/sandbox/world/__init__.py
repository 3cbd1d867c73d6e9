"""The sandbox world: one seeded, realistic organisation every simulator is filled from.

``idsync sandbox`` generates a :class:`World` and hands it to each installed plugin's
``idsync_sandbox`` hook, so AFAS, TOPdesk and HelloID simulators describe the same people.

:func:`generate_world` makes a Dutch organisation (Noorderlicht Groep): a department tree of
30-60 units with managers, persons with Dutch names (prefixes, diacritics, the four naming
conventions), and contracts as real HR data has them: several positions, part-timers, future
joiners, recent and future leavers, movers, external hires, and a few rows that are wrong.
The same ``size``, ``seed`` and ``today`` always give the same world.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from idsync import collector
from idsync.model import Department, Person
from idsync.sandbox.world._bad_rows import BREAKERS, bad_count
from idsync.sandbox.world._names import make_name
from idsync.sandbox.world._organisation import Unit, build_units
from idsync.sandbox.world._people import (
    CATEGORY_SHARES,
    EMAIL_DOMAIN,
    FIRST_EMPLOYEE_NUMBER,
    REGULAR,
    Generator,
    employee_number,
)

__all__ = ["EMAIL_DOMAIN", "FIRST_EMPLOYEE_NUMBER", "World", "generate_world"]


@dataclass
class World:
    """A seeded organisation: departments, persons (with contracts) and some bad rows.

    ``today`` is the date the world was made around (joiners after it, leavers before and
    after it). ``bad_persons`` are person-shaped mappings that fail validation on purpose,
    each with a ``"_problem"`` key saying what is wrong, as real HR data has.
    """

    seed: int
    today: dt.date
    departments: list[Department] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    bad_persons: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def persons_by_id(self) -> dict[str, Person]:
        """Persons by external id (built on first use)."""
        return {p.external_id: p for p in self.persons}

    @cached_property
    def departments_by_id(self) -> dict[str, Department]:
        """Departments by external id (built on first use)."""
        return {d.external_id: d for d in self.departments}

    def person(self, external_id: str) -> Person:
        """The person with ``external_id``; raises ``KeyError`` when there is none."""
        try:
            return self.persons_by_id[external_id]
        except KeyError:
            raise KeyError(f"no person {external_id!r} in this world") from None


def _categories(rng: random.Random, count: int) -> list[str]:
    """Exact shares of each category among ``count`` persons, in seeded order."""
    categories: list[str] = []
    for category, share in CATEGORY_SHARES.items():
        categories += [category] * round(count * share)
    del categories[count:]
    categories += [REGULAR] * (count - len(categories))
    rng.shuffle(categories)
    return categories


def _department(unit: Unit) -> Department:
    return Department(
        external_id=unit.code,
        name=unit.name,
        code=unit.code,
        parent=unit.parent.code if unit.parent else None,
        manager=employee_number(unit.manager) if unit.manager is not None else None,
    )


def generate_world(size: int = 1000, seed: int = 0, today: dt.date | None = None) -> World:
    """Generate a realistic Dutch organisation of ``size`` persons around ``today``.

    The same arguments always give the same world (``today`` defaults to the current date,
    so pass it for a world that does not move). Persons are numbered ``"100001"`` upwards;
    about 1% extra ``bad_persons`` (none below 20 persons, at least 3 from 100) follow them.
    """
    if size < 0:
        raise ValueError(f"size must be 0 or more, not {size}")
    today = today or dt.date.today()
    with collector.paused():
        return _generate(size, seed, today)


def _generate(size: int, seed: int, today: dt.date) -> World:
    rng = random.Random(seed)
    units = build_units(rng)
    generator = Generator(rng, today, units)
    total = size + bad_count(size)
    for _ in range(total):
        name = make_name(rng)
        generator.names.append(name)
        generator.displays.append(name.display)

    managed: dict[int, Unit] = {}
    for unit, person in zip(units, rng.sample(range(size), min(size, len(units))), strict=False):
        unit.manager = person
        managed[person] = unit
    categories = _categories(rng, size - len(managed))

    persons = []
    for index in range(size):
        own_unit = managed.get(index)
        category = REGULAR if own_unit is not None else categories.pop()
        persons.append(generator.person(index, category, own_unit))

    bad_persons = []
    for number, index in enumerate(range(size, total)):
        row = generator.person(index, REGULAR, None).model_dump(mode="json")
        row["_problem"] = BREAKERS[number % len(BREAKERS)](row, today)
        bad_persons.append(row)

    return World(
        seed=seed,
        today=today,
        departments=[_department(u) for u in units],
        persons=persons,
        bad_persons=bad_persons,
    )
