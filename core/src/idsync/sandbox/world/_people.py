"""Persons and their contracts, by category: regular staff, joiners, leavers, movers, several
positions, contract history, externals and interns, with managers up the department tree."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from idsync.model import Name, Person, PersonRef
from idsync.sandbox.world._names import ascii_token
from idsync.sandbox.world._organisation import (
    AGENCIES,
    CITIES,
    CITY_CODES,
    EMPLOYERS,
    EXTERNAL_TITLES,
    HEAD_OFFICE,
    INTERN_TITLE,
    MANAGER_TITLES,
    TYPES,
    Title,
    Unit,
)

EMAIL_DOMAIN = "example.org"
"""The organisation's mail domain: business e-mail addresses are ``first.family@EMAIL_DOMAIN``."""
FIRST_EMPLOYEE_NUMBER = 100001
"""Persons are numbered from here in order; bad rows follow the last person."""

# categories of persons, each with a ``Generator`` method that makes their contracts
REGULAR = "regular"
_JOINER = "joiner"
_LEAVER = "leaver"
_FUTURE_LEAVER = "future_leaver"
_MOVER = "mover"
_CONCURRENT = "positions"
_HISTORY = "history"
_EXTERNAL = "external"
_INTERN = "intern"

CATEGORY_SHARES: dict[str, float] = {
    _EXTERNAL: 0.07,
    _JOINER: 0.04,
    _LEAVER: 0.04,
    _FUTURE_LEAVER: 0.03,
    _MOVER: 0.02,
    _CONCURRENT: 0.08,
    _HISTORY: 0.08,
    _INTERN: 0.01,
}
_PART_TIME_HOURS = (16, 20, 24, 24, 28, 32, 32)
_SPLITS_OF_TWO = ((20.0, 16.0), (24.0, 12.0), (18.0, 18.0), (16.0, 8.0), (20.0, 8.0))
_SPLITS_OF_THREE = ((16.0, 12.0, 8.0), (12.0, 12.0, 12.0), (20.0, 8.0, 8.0))
_WEEK_HOURS = 36  # a full-time week under most Dutch collective agreements


def _fte(hours: float) -> float:
    return round(hours / _WEEK_HOURS, 4)


class Generator:
    """One world in the making; every draw comes from the one seeded ``rng``."""

    def __init__(self, rng: random.Random, today: dt.date, units: list[Unit]) -> None:
        self.rng = rng
        self.today = today
        self.staff_units = [u for u in units if u.weight > 0]
        self.cum_weights = list(accumulate(u.weight for u in self.staff_units))
        self.ext_unit = next(u for u in units if u.code == "EXT")
        self.names: list[Name] = []
        self.displays: list[str] = []
        self.mailboxes: dict[str, int] = {}
        self.by_category: dict[str, Callable[[int, Unit], list[dict[str, Any]]]] = {
            REGULAR: self._regular,
            _JOINER: self._joiner,
            _LEAVER: self._leaver,
            _FUTURE_LEAVER: self._future_leaver,
            _MOVER: self._mover,
            _CONCURRENT: self._positions,
            _HISTORY: self._history,
            _EXTERNAL: self._external,
            _INTERN: self._intern,
        }

    # -- drawing helpers

    def days(self, low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=self.rng.randint(low, high))

    def unit(self, other_than: Unit | None = None) -> Unit:
        for _ in range(8):
            unit = self.rng.choices(self.staff_units, cum_weights=self.cum_weights)[0]
            if unit is not other_than:
                return unit
        return unit

    def hire_date(self, min_days: int = 30) -> dt.date:
        """A start in the past: many recent hires, a long tail of long service."""
        back = min_days + min(int(self.rng.expovariate(1 / 1800)), 14000)
        return self.today - dt.timedelta(days=back)

    def hours(self, part_time_share: float = 0.38) -> float:
        if self.rng.random() < part_time_share:
            return float(self.rng.choice(_PART_TIME_HOURS))
        return float(_WEEK_HOURS)

    def manager_ref(self, unit: Unit, person: int) -> dict[str, str] | None:
        """The unit's manager, or up the tree when that is the person themselves."""
        for candidate in unit.chain():
            if candidate.manager is not None and candidate.manager != person:
                return {
                    "external_id": employee_number(candidate.manager),
                    "display_name": self.displays[candidate.manager],
                }
        return None

    def contract(
        self,
        person: int,
        sequence: int,
        unit: Unit,
        start: dt.date,
        end: dt.date | None,
        type_code: str,
        hours: float,
        title: Title | None = None,
        employer: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """One contract in the shape of :class:`Contract` (validated with its person)."""
        rng = self.rng
        title = title or rng.choice(unit.titles)
        city = unit.city if rng.random() < 0.9 else rng.choice(CITY_CODES)
        employer = employer or (unit.employer, EMPLOYERS[unit.employer])
        return {
            "external_id": f"{employee_number(person)}-{sequence}",
            "start": start,
            "end": end,
            "department": {"external_id": unit.code, "code": unit.code, "name": unit.name},
            "title": {"external_id": title[0], "code": title[0], "name": title[1]},
            "cost_center": {
                "external_id": unit.cost_center,
                "code": unit.cost_center,
                "name": unit.name,
            },
            "employer": {"external_id": employer[0], "code": employer[0], "name": employer[1]},
            "location": {"external_id": city, "code": city, "name": CITIES[city][0]},
            "manager": self.manager_ref(unit, person),
            "type": {"external_id": type_code, "code": type_code, "name": TYPES[type_code]},
            "fte": _fte(hours),
            "hours_per_week": hours,
            "sequence": sequence,
        }

    # -- contracts per category

    def contracts(self, person: int, category: str, managed: Unit | None) -> list[dict[str, Any]]:
        """The contracts of one person: as the manager of ``managed``, or by category."""
        if managed is not None:
            title = MANAGER_TITLES[min(managed.depth, 4)]
            hours = float(_WEEK_HOURS) if self.rng.random() < 0.85 else 32.0
            start = self.hire_date(365)
            return [self.contract(person, 1, managed, start, None, "VAST", hours, title)]
        return self.by_category[category](person, self.unit())

    def _regular(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Permanent, or temporary with an end beyond the next two months."""
        if self.rng.random() < 0.8:
            return [self.contract(person, 1, unit, self.hire_date(), None, "VAST", self.hours())]
        start = self.today - self.days(30, 600)
        end = self.today + self.days(61, 540)
        return [self.contract(person, 1, unit, start, end, "TIJD", self.hours())]

    def _joiner(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Starts within the next two months."""
        start = self.today + self.days(1, 60)
        if self.rng.random() < 0.4:
            end = start + dt.timedelta(days=364)
            return [self.contract(person, 1, unit, start, end, "TIJD", self.hours())]
        return [self.contract(person, 1, unit, start, None, "VAST", self.hours())]

    def _leaver(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Left within the last two months."""
        end = self.today - self.days(1, 60)
        start = end - self.days(60, 3650)
        kind = self.rng.choice(("VAST", "TIJD"))
        return [self.contract(person, 1, unit, start, end, kind, self.hours())]

    def _future_leaver(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Leaves within the next two months."""
        end = self.today + self.days(1, 60)
        kind = self.rng.choice(("VAST", "TIJD"))
        return [self.contract(person, 1, unit, self.hire_date(60), end, kind, self.hours())]

    def _mover(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Moves to another department within the next month: one contract ends, the next
        starts the day after."""
        end = self.today + self.days(3, 28)
        hours = self.hours()
        new_unit = self.unit(other_than=unit)
        return [
            self.contract(person, 1, unit, self.hire_date(365), end, "VAST", hours),
            self.contract(person, 2, new_unit, end + dt.timedelta(days=1), None, "VAST", hours),
        ]

    def _positions(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Two or three part-time positions in different departments at once."""
        rng = self.rng
        splits = _SPLITS_OF_TWO if rng.random() < 0.75 else _SPLITS_OF_THREE
        hours_each = rng.choice(splits)
        units = [unit]
        while len(units) < len(hours_each):
            units.append(self.unit(other_than=units[-1]))
        start = self.hire_date(200)
        contracts = []
        for sequence, (position, hours) in enumerate(zip(units, hours_each, strict=True), 1):
            end = None if rng.random() < 0.8 else self.today + self.days(61, 500)
            kind = "VAST" if end is None else "TIJD"
            contracts.append(self.contract(person, sequence, position, start, end, kind, hours))
            start = min(self.today, start + self.days(30, 700))
        return contracts

    def _history(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """One or two ended temporary contracts before the current permanent one."""
        rng = self.rng
        hours = self.hours()
        spans: list[tuple[dt.date, dt.date | None]] = [(self.hire_date(30), None)]
        for _ in range(1 if rng.random() < 0.75 else 2):
            end = spans[0][0] - dt.timedelta(days=1)
            spans.insert(0, (end - dt.timedelta(days=rng.choice((182, 364, 364, 729))), end))
        return [
            self.contract(person, sequence, unit, start, end, "TIJD" if end else "VAST", hours)
            for sequence, (start, end) in enumerate(spans, 1)
        ]

    def _external(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """Hired through an agency; most are booked on the EXT unit."""
        rng = self.rng
        if rng.random() < 0.6:
            unit = self.ext_unit
        start = self.today - self.days(1, 700)
        end = self.today + self.days(1, 365) if rng.random() < 0.7 else None
        title, agency = rng.choice(EXTERNAL_TITLES), rng.choice(AGENCIES)
        hours = self.hours(0.3)
        return [self.contract(person, 1, unit, start, end, "EXT", hours, title, agency)]

    def _intern(self, person: int, unit: Unit) -> list[dict[str, Any]]:
        """An internship of a few months."""
        start = self.today - self.days(7, 120)
        end = self.today + self.days(61, 180)
        hours = self.hours(0.5)
        return [self.contract(person, 1, unit, start, end, "STAGE", hours, INTERN_TITLE)]

    # -- one person

    def mailbox(self, name: Name) -> str:
        family = (
            name.partner_family
            if name.convention in ("P", "PB") and name.partner
            else name.birth_family
        )
        local = f"{ascii_token(name.first.split()[0])}.{ascii_token(family)}"
        count = self.mailboxes.get(local, 0) + 1
        self.mailboxes[local] = count
        return f"{local}{count if count > 1 else ''}@{EMAIL_DOMAIN}"

    def person(self, index: int, category: str, managed: Unit | None) -> Person:
        rng = self.rng
        name = self.names[index]
        person = Person.model_validate(
            {
                "external_id": employee_number(index),
                "display_name": self.displays[index],
                "name": name,
                "contact": {
                    "email": None if category == _JOINER else self.mailbox(name),
                    "phone": None,
                    "mobile": f"+31 6 {rng.randint(10000000, 99999999)}"
                    if rng.random() < 0.6
                    else None,
                },
                "manager": None,
                "contracts": self.contracts(index, category, managed),
            }
        )
        # the documented primary-contract rule decides the person's manager and phone area
        main = person.primary_contract(self.today)
        if main is not None and main.manager is not None:
            manager = main.manager
            person.manager = PersonRef(
                external_id=manager.external_id, display_name=manager.display_name
            )
        city = main.location.code if main and main.location and main.location.code else None
        area = CITIES[city or HEAD_OFFICE][1]
        person.contact.phone = f"+31 {area} {rng.randint(200, 799)} {rng.randint(0, 9999):04d}"
        return person


def employee_number(index: int) -> str:
    return str(FIRST_EMPLOYEE_NUMBER + index)
