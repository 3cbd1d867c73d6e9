"""Seeding the simulator from the sandbox world (core-model persons and departments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idsync_afas.simulator._store import AfasData

if TYPE_CHECKING:
    from idsync.sandbox.world import World

__all__ = ["from_world"]


def from_world(world: World, *, member: str = "12345", window_months: int | None = 3) -> AfasData:
    """AFAS rows for every person, bad row and department of ``world``.

    Contracts with ids ``position~employment`` become positions of a shared employment, other
    contracts employments without positions. Each person gets an AFAS user
    (``{member}.{employee number}``) without UPN, ready for the write-back. The world's bad
    rows are listed in the Users connector whatever their dates, so a source must block them.
    Groups: everyone (hidden, as the standard connector hides it), ``Medewerkers`` with every
    user and ``Leidinggevenden`` with the department managers.
    """
    data = AfasData(world.today, member=member, window_months=window_months)
    for department in world.departments:
        data.add_unit(
            department.external_id, department.name, department.parent, department.manager
        )
    for person in world.persons:
        data.add_person(person.model_dump())
    for bad in world.bad_persons:
        data.add_person(bad, listed=True)
    data.changed()
    managers = {d.manager for d in world.departments if d.manager}
    data.groups = [
        {"GroupId": "Iedereen", "Description": "Iedereen"},
        {"GroupId": "Medewerkers", "Description": "Alle medewerkers"},
        {"GroupId": "Leidinggevenden", "Description": "Leidinggevenden van een afdeling"},
    ]
    by_person = {p["Persoonsnummer"]: p["Medewerker"] for p in data.people}
    for user in data.users:
        data.user_groups.append({"GroupId": "Iedereen", "UserId": user["Gebruiker"]})
        data.user_groups.append({"GroupId": "Medewerkers", "UserId": user["Gebruiker"]})
        if by_person.get(user["Persoonsnummer"]) in managers:
            data.user_groups.append({"GroupId": "Leidinggevenden", "UserId": user["Gebruiker"]})
    return data
