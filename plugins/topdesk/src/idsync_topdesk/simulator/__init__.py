"""A TOPdesk simulator: the ``/tas/api`` endpoints the plugin uses, in memory.

It speaks the shapes of the real API: BASIC auth with an application password (401 without),
persons with FIQL ``query`` (``==``, ``!=``, ``;``, ``,``, ``archived==``), the classic paging
form (``start``/``page_size``, a JSON array, 206 while more pages exist, 204 when empty) and the
v2 collection (``pageStart``/``pageSize``/``fields`` with the v2 ``Accept`` header, ``{item,
next}``), ``status`` ``person``/``personArchived``, archiving with a reason id, no changes to an
archived person, lookups as ``{id, name}``, errors as ``[{"message": …}]``. Wrapped in
:class:`idsync.sandbox.simulator.Simulated` for the request log and fault injection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idsync.sandbox.simulator import Faults, SandboxApp, Simulated

from idsync_topdesk.simulator._app import V2_ACCEPT, build_app
from idsync_topdesk.simulator._store import SimError, Store

if TYPE_CHECKING:
    from idsync.model import Contract, Person
    from idsync.sandbox.world import World

__all__ = [
    "ARCHIVING_REASONS",
    "SANDBOX_PASSWORD",
    "SANDBOX_USERNAME",
    "V2_ACCEPT",
    "SimError",
    "Store",
    "TopdeskSimulator",
    "sandbox_app",
    "seed_from_world",
]

SANDBOX_USERNAME = "idsync"
SANDBOX_PASSWORD = "sandbox-application-password"  # noqa: S105 - a loopback-only simulator
ARCHIVING_REASONS = ("Persoon uit organisatie", "Overleden", "Dubbele registratie")
COUNTRIES = ("Nederland", "België", "Duitsland")
SEEDED_SHARE = 0.6
"""The share of the world's persons already present in TOPdesk."""


@dataclass
class TopdeskSimulator:
    """A simulated TOPdesk environment: its data and the ASGI app serving it."""

    store: Store
    app: Simulated
    username: str
    password: str

    @classmethod
    def create(
        cls,
        username: str = SANDBOX_USERNAME,
        password: str = SANDBOX_PASSWORD,
        *,
        seed: int | None = 0,
        reasons: tuple[str, ...] = ARCHIVING_REASONS,
        countries: tuple[str, ...] = COUNTRIES,
        faults: Faults | None = None,
        v2_collection: bool = True,
    ) -> TopdeskSimulator:
        """An empty environment with archiving reasons and countries (``faults`` to inject).

        ``v2_collection=False`` is an environment from before the v2 person collection: a
        request for it is answered 406.
        """
        store = Store(seed)
        for reason in reasons:
            store.add_entry("archiving-reasons", reason)
        for country in countries:
            store.add_entry("countries", country)
        app = Simulated(build_app(store, username, password, v2=v2_collection), faults)
        return cls(store=store, app=app, username=username, password=password)


def _primary(person: Person, world: World) -> Contract | None:
    return person.primary_contract(world.today)


def _branch_names(world: World) -> list[str]:
    names: dict[str, str] = {}
    for person in world.persons:
        for contract in person.contracts:
            if contract.location and contract.location.name:
                names.setdefault(contract.location.name.casefold(), contract.location.name)
    if not names:
        for department in world.departments:
            if department.parent is None:
                names.setdefault(department.name.casefold(), department.name)
    return list(names.values()) or ["Hoofdkantoor"]


def seed_from_world(store: Store, world: World) -> dict[str, int]:
    """Fill ``store`` from ``world``: every branch, department and budget holder, and some persons.

    Branches are the contracts' locations (or the top departments when no contract has a
    location). About :data:`SEEDED_SHARE` of the persons who have started, chosen with the
    world's seed, are present already, so a first run must correlate them rather than create
    them; future joiners are not known to the service desk yet. A person
    whose contracts have all ended is archived. ``surName`` holds the full family name as the
    naming convention composes it (prefixes included), as the example pipelines map it.
    Returns counts for a summary.
    """
    rng = random.Random(world.seed)
    for name in _branch_names(world):
        if store.find("branches", name) is None:
            store.add_branch(name)
    for unit in world.departments:
        if store.find("departments", unit.name) is None:
            store.add_entry("departments", unit.name)
    for someone in world.persons:
        for held in someone.contracts:
            holder = held.cost_center.name if held.cost_center else None
            if holder and store.find("budgetholders", holder) is None:
                store.add_entry("budgetholders", holder)
    default_branch = store.entries("branches")[0]["name"]
    chosen = [
        p
        for p in world.persons
        if rng.random() < SEEDED_SHARE and any(c.start <= world.today for c in p.contracts)
    ]
    ids: dict[str, str] = {}
    archived = 0
    for person in chosen:
        contract = _primary(person, world)
        fields = _person_fields(person, contract)
        location = contract.location.name if contract and contract.location else None
        branch = location if location and store.find("branches", location) else default_branch
        department = contract.department.name if contract and contract.department else None
        cost = contract.cost_center.name if contract and contract.cost_center else None
        ended = bool(person.contracts) and all(
            c.end is not None and c.end < world.today for c in person.contracts
        )
        gone = person.inactive or ended
        archived += gone
        created = store.seed_person(
            branch=branch,
            department=department if department and store.find("departments", department) else None,
            budget_holder=cost,
            archived=gone,
            contract=_contract_dates(person),
            **fields,
        )
        ids[person.external_id] = created["id"]
    for person in chosen:
        contract = _primary(person, world)
        ref = person.manager or (contract.manager if contract else None)
        manager_id = ids.get(ref.external_id) if ref else None
        if manager_id and manager_id != ids[person.external_id]:
            with store.lock:
                store.persons[manager_id]["isManager"] = True
                store.persons[ids[person.external_id]]["manager"] = manager_id
    return {
        "persons": len(chosen),
        "archived": archived,
        "branches": len(store.entries("branches")),
        "departments": len(store.entries("departments")),
    }


def _person_fields(person: Person, contract: Contract | None) -> dict[str, Any]:
    email = person.contact.email or ""
    return {
        "surName": person.name.full_family,
        "firstName": person.name.first,
        "firstInitials": person.name.initials or "",
        "email": email,
        "phoneNumber": person.contact.phone or "",
        "mobileNumber": person.contact.mobile or "",
        "employeeNumber": person.external_id,
        "networkLoginName": email.partition("@")[0],
        "jobTitle": (contract.title.name or "") if contract and contract.title else "",
    }


def _contract_dates(person: Person) -> dict[str, Any] | None:
    if not person.contracts:
        return None
    start = min(c.start for c in person.contracts)
    ends = [c.end for c in person.contracts]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return {
        "hireDate": f"{start.isoformat()}T00:00:00.000+0000",
        "employmentTerminationDate": f"{end.isoformat()}T00:00:00.000+0000" if end else None,
    }


def sandbox_app(world: World) -> SandboxApp:
    """The simulator seeded from ``world``, as the ``idsync_sandbox`` hook returns it."""
    sim = TopdeskSimulator.create(seed=world.seed)
    counts = seed_from_world(sim.store, world)
    return SandboxApp(
        name="topdesk",
        app=sim.app,
        env={
            "TOPDESK_BASE_URL": "{url}",
            "TOPDESK_USERNAME": sim.username,
            "TOPDESK_PASSWORD": sim.password,
        },
        summary=(
            f"TOPdesk: {counts['persons']} persons ({counts['archived']} archived), "
            f"{counts['branches']} branches, {counts['departments']} departments"
        ),
        data=sim.store,
    )
