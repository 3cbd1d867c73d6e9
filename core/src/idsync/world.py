"""The sandbox world: one seeded, realistic organisation every simulator is filled from.

``idsync sandbox`` generates a :class:`World` and hands it to each installed plugin's
``idsync_sandbox`` hook, so AFAS, TOPdesk and HelloID simulators describe the same people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from idsync.model import Department, Person

__all__ = ["World"]


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
