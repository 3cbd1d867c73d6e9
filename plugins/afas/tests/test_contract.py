"""The idsync contract kit run against the AFAS plugin (source and write-back target) and its
simulator, over the hand-built organisation of ``conftest.make_world``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from idsync import Correlation
from idsync.sandbox.world import World
from idsync.testing import Sample, source_contract, target_contract
from idsync_afas import AfasPlugin

if TYPE_CHECKING:
    from conftest import Afas

TODAY = dt.date(2026, 3, 2)
"""The day the organisation is made around (``conftest.TODAY``)."""


def _employee(world: World) -> Sample:
    """Ruud van 't Hoek (1010): AFAS never creates employees, so "create" links to him."""
    return Sample(
        person=world.person("1010"),
        account={
            "Medewerker": "1010",
            "UPN": "ruud.hoek@voorbeeld.nl",
            "Email_werk_gebruiker": "ruud.hoek@voorbeeld.nl",
        },
        correlation=Correlation(
            person_field="external_id", account_field="Medewerker", value="1010"
        ),
        changes={"Email_werk": "r.vanthoek@voorbeeld.nl", "Telefoonnr_werk": "+31 30 765 4321"},
    )


def _broken_fte(afas: Afas) -> str:
    """Employee 1002's employment gets an FTE that is not a number."""
    data = afas.sim.data
    with data.lock:
        employment = next(e for e in data.employments if e["Medewerker"] == "1002")
        employment["FTE"] = "veel"
        data.changed()
    return "1002"


TestAfasTarget = target_contract(
    plugin=AfasPlugin,
    settings=lambda afas: afas.settings(),
    writes=lambda afas: afas.sim.app.log.writes(),
    sample=_employee,
    as_of=TODAY,
)

TestAfasSource = source_contract(
    plugin=AfasPlugin,
    settings=lambda afas: afas.settings(),
    writes=lambda afas: afas.sim.app.log.writes(),
    bad_row=_broken_fte,
    min_persons=8,
    as_of=TODAY,
)


@pytest.fixture
def ruud_has_no_user(afas: Afas) -> None:
    """Employee 1010 without an AFAS user, so "create" makes one."""
    data = afas.sim.data
    with data.lock:
        data.users.remove(data.user("12345.1010"))  # type: ignore[arg-type]
        data.changed()


TestAfasTargetWithUsers = target_contract(
    plugin=AfasPlugin,
    settings=lambda afas: afas.settings(manage_users=True, relation_number="12345"),
    writes=lambda afas: afas.sim.app.log.writes(),
    sample=_employee,
    fixtures=["ruud_has_no_user"],
    as_of=TODAY,
)
"""The same contract with managed users: create makes the missing user (blocked), enable and
disable unblock and block it."""
