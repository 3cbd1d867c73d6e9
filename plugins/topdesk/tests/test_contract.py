"""The idsync contract kit run against the TOPdesk plugin (source and target) and its simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from idsync import Correlation
from idsync.testing import Sample, source_contract, target_contract
from idsync_topdesk import TopdeskPlugin
from idsync_topdesk.simulator import TopdeskSimulator

Seed = Callable[..., dict[str, Any]]


def _sample(unique: str) -> Sample:
    return Sample(
        account={
            "surName": "Contract",
            "firstName": "Test",
            "employeeNumber": unique,
            "email": f"{unique}@example.org",
            "networkLoginName": unique,
            "jobTitle": "Tester",
            "branch.name": "Baarn",
            "department.name": "ICT",
        },
        correlation=Correlation(
            person_field="external_id", account_field="employeeNumber", value=unique
        ),
        changes={"jobTitle": "Teamleider", "department.name": "Personeelszaken"},
        may_change=("modificationDate",),
    )


@pytest.fixture
def staff(seed: Seed) -> None:
    """A manager and two staff in TOPdesk, one of them archived."""
    boss = seed("100", surName="Vries", prefixes="de", firstName="Anna", isManager=True)
    seed("101", manager=boss["id"], department="ICT")
    seed("102", archived=True)


def _nameless(sim: TopdeskSimulator) -> str:
    """A person without an employee number: the source cannot give it an identity."""
    person = sim.store.seed_person(branch="Baarn", surName="Zonder Nummer")
    return f"TOPdesk person {person['id']}"


TestTopdeskTarget = target_contract(
    plugin=TopdeskPlugin,
    settings=lambda plugin: plugin.settings,
    writes=lambda sim: sim.app.log.writes(),
    sample=_sample,
)

TestTopdeskSource = source_contract(
    plugin=TopdeskPlugin,
    settings=lambda plugin: plugin.settings,
    writes=lambda sim: sim.app.log.writes(),
    bad_row=_nameless,
    min_persons=3,
    fixtures=["staff"],
)
