"""Synthetic persons for the benchmarks: every person has exactly two contracts.

The shape is what a large organisation's HR source gives: one open-ended position and a
second one that is either concurrent (a second position) or ended last year (history), across
80 departments, 30 titles, 8 locations and 3 employers. Seeded, so every run plans the same
work. Rows are person-shaped mappings in JSON form, as a source plugin yields them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

__all__ = ["DEPARTMENTS", "TODAY", "department_rows", "person_row", "person_rows"]

TODAY = dt.date(2026, 3, 2)
"""The benchmarks' ``as_of``: fixed, so the work planned never depends on the calendar."""

_FAMILIES = (
    "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden",
    "Kok", "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "van der Veen", "van den Broek",
)  # fmt: skip
_GIVEN = (
    "Jan", "Anna", "Piet", "Sanne", "Kees", "Fatima", "Mohamed", "Eva", "Lucas", "Emma",
    "Daan", "Julia", "Sem", "Lotte", "Noah", "Sophie", "Ëlise", "Çelik", "Thijs", "Fleur",
)  # fmt: skip
_TITLES = [(f"T{n:02d}", f"Functie {n}") for n in range(1, 29)] + [
    ("ICT-ADM", "ICT administrator"),
    ("MGR", "Afdelingsmanager"),
]
_LOCATIONS = [
    ("UTR", "Utrecht"),
    ("AMS", "Amsterdam"),
    ("RTM", "Rotterdam"),
    ("DHG", "Den Haag"),
    ("ZWL", "Zwolle"),
    ("GRN", "Groningen"),
    ("EHV", "Eindhoven"),
    ("DBS", "'s-Hertogenbosch"),
]
_EMPLOYERS = [
    ("NLG", "Noorderlicht Groep B.V."),
    ("NLD", "Noorderlicht Dienstverlening B.V."),
    ("NLC", "Noorderlicht Commercie B.V."),
]
_TYPES = [("VAST", "Onbepaalde tijd"), ("TIJD", "Bepaalde tijd"), ("EXT", "Extern (inhuur)")]
DEPARTMENTS = [(f"D{n:03d}", f"Afdeling {n}") for n in range(1, 81)]


def _ref(code: str, name: str) -> dict[str, str]:
    return {"external_id": code, "code": code, "name": name}


def _contract(
    rng: random.Random, cid: str, start: dt.date, end: dt.date | None, fte: float
) -> dict[str, Any]:
    dep = rng.choice(DEPARTMENTS)
    title = rng.choice(_TITLES)
    location = rng.choice(_LOCATIONS)
    employer = rng.choice(_EMPLOYERS)
    kind = _TYPES[2] if rng.random() < 0.05 else _TYPES[0 if end is None else 1]
    return {
        "external_id": cid,
        "start": start.isoformat(),
        "end": end.isoformat() if end else None,
        "department": _ref(*dep),
        "title": _ref(*title),
        "cost_center": _ref(f"CC{dep[0][1:]}", dep[1]),
        "employer": _ref(*employer),
        "location": _ref(*location),
        "type": _ref(*kind),
        "fte": fte,
        "hours_per_week": round(fte * 36, 1),
    }


def person_row(index: int, seed: int = 1, starts_in: int | None = None) -> dict[str, Any]:
    """Person number ``index`` (deterministic for the seed), with two contracts.

    ``starts_in`` makes a joiner: both contracts start that many days after :data:`TODAY`.
    """
    rng = random.Random(seed * 1_000_003 + index)
    pid = str(100001 + index)
    given = rng.choice(_GIVEN)
    family = rng.choice(_FAMILIES)
    prefix, _, last = family.rpartition(" ")
    start = TODAY - dt.timedelta(days=rng.randint(30, 6000))
    if starts_in is not None:
        start = TODAY + dt.timedelta(days=starts_in)
    primary = _contract(rng, f"{pid}-1", start, None, rng.choice((1.0, 1.0, 0.8, 0.6, 0.5)))
    if starts_in is not None:
        second = _contract(rng, f"{pid}-2", start, None, 0.2)
    elif rng.random() < 0.5:  # a second, concurrent position
        second = _contract(rng, f"{pid}-2", start + dt.timedelta(days=30), None, 0.2)
    else:  # history: an earlier contract that ended
        ended = start - dt.timedelta(days=1)
        second = _contract(rng, f"{pid}-2", ended - dt.timedelta(days=700), ended, 1.0)
    local = f"{given.lower()}.{last.lower()}{index}".replace("ë", "e").replace("ç", "c")
    return {
        "external_id": pid,
        "display_name": f"{given} {family}",
        "name": {
            "given": given,
            "nick": given,
            "initials": f"{given[0]}.",
            "family": last,
            "family_prefix": prefix or None,
            "convention": "B",
        },
        "contact": {"email": f"{local}@example.org", "phone": f"+31 30 {index % 10_000:04d}"},
        "contracts": [primary, second],
    }


def person_rows(size: int, seed: int = 1, starts_in: int | None = None) -> Iterator[dict[str, Any]]:
    """``size`` persons in external-id order."""
    for index in range(size):
        yield person_row(index, seed, starts_in)


def department_rows() -> list[dict[str, Any]]:
    """The 80 departments every synthetic contract points into."""
    return [{"external_id": code, "code": code, "name": name} for code, name in DEPARTMENTS]
