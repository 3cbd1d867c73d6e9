"""The generated sandbox world: deterministic, valid, coherent and as messy as real HR data."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest
from idsync.model import Contract, Person
from idsync.sandbox.world import EMAIL_DOMAIN, World, generate_world
from pydantic import ValidationError

TODAY = dt.date(2025, 3, 15)
SOON = dt.timedelta(days=60)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(1000, seed=7, today=TODAY)


def _without_problem(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "_problem"}


# --- determinism and size --------------------------------------------------------------


def test_same_seed_gives_the_same_world() -> None:
    assert generate_world(300, seed=3, today=TODAY) == generate_world(300, seed=3, today=TODAY)


def test_another_seed_gives_another_world() -> None:
    one, other = generate_world(300, seed=3, today=TODAY), generate_world(300, seed=4, today=TODAY)
    assert [p.display_name for p in one.persons] != [p.display_name for p in other.persons]
    assert [d.manager for d in one.departments] != [d.manager for d in other.departments]


def test_the_tree_differs_between_seeds() -> None:
    trees = {tuple(d.code for d in generate_world(0, seed=s).departments) for s in range(8)}
    assert len(trees) > 1


def test_today_defaults_to_the_current_date() -> None:
    assert generate_world(5, seed=1).today == dt.date.today()


@pytest.mark.parametrize(
    ("size", "bad"), [(0, 0), (1, 0), (19, 0), (20, 1), (99, 1), (100, 3), (450, 4), (1000, 10)]
)
def test_sizes_and_bad_row_counts(size: int, bad: int) -> None:
    world = generate_world(size, seed=11, today=TODAY)
    assert len(world.persons) == size
    assert len(world.bad_persons) == bad


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        generate_world(-1)


def test_employee_numbers_are_unique_and_sequential(world: World) -> None:
    ids = [p.external_id for p in world.persons]
    assert ids == [str(100001 + i) for i in range(1000)]
    bad_ids = [str(row["external_id"]) for row in world.bad_persons]
    assert len(set(bad_ids)) == len(bad_ids)
    assert not set(bad_ids) & set(ids)


def test_a_large_world_is_generated() -> None:
    world = generate_world(20_000, seed=5, today=TODAY)
    assert len(world.persons) == 20_000
    assert len({p.external_id for p in world.persons}) == 20_000
    assert len(world.bad_persons) == 200


# --- validity --------------------------------------------------------------------------


def test_every_person_validates_and_round_trips_through_json(world: World) -> None:
    for person in world.persons:
        assert Person.model_validate(person.model_dump(mode="json")) == person


def test_every_bad_person_fails_validation(world: World) -> None:
    fields = set(Person.model_fields) | {"_problem"}
    for row in world.bad_persons:
        assert set(row) == fields
        assert isinstance(row["_problem"], str)
        assert row["_problem"]
        with pytest.raises(ValidationError):
            Person.model_validate(_without_problem(row))


def test_bad_persons_fail_in_different_ways(world: World) -> None:
    problems = " | ".join(str(row["_problem"]) for row in world.bad_persons)
    for expected in (
        "missing family name",
        "before it starts",
        "-02-30",
        "appears twice",
        "control character",
    ):
        assert expected in problems
    errors = set()
    for row in world.bad_persons:
        with pytest.raises(ValidationError) as info:
            Person.model_validate(_without_problem(row))
        errors.add(info.value.errors()[0]["msg"])
    assert len(errors) >= 5


def test_a_bad_person_is_wrong_only_in_its_problem(world: World) -> None:
    """Repairing the one broken thing makes the row valid: the rest of the row is sound."""
    for row in world.bad_persons:
        fixed = _without_problem(row)
        problem = str(row["_problem"])
        contracts = [dict(c) for c in fixed["contracts"]]
        fixed["contracts"] = contracts
        if problem == "missing family name":
            fixed["name"] = {**fixed["name"], "family": "Jansen"}
        elif "before it starts" in problem:
            contracts[0]["end"] = None
        elif "no start date" in problem:
            contracts[0]["start"] = "2020-01-01"
            contracts[0]["end"] = None
        elif "impossible date" in problem:
            contracts[0]["start"] = str(contracts[0]["start"]).replace("-02-30", "-02-28")
        elif "appears twice" in problem:
            contracts[1]["external_id"] += "b"
        elif "control character" in problem:
            fixed["display_name"] = str(fixed["display_name"]).replace("\x0b", " ")
        elif "percentage" in problem:
            contracts[0]["fte"] = contracts[0]["fte"] / 100
        else:
            pytest.fail(f"unknown problem: {problem}")
        Person.model_validate(fixed)


# --- the department tree ---------------------------------------------------------------


def test_the_tree_has_one_root_and_no_cycles(world: World) -> None:
    departments = world.departments_by_id
    assert 30 <= len(world.departments) <= 60
    assert len(departments) == len(world.departments)
    roots = [d for d in world.departments if d.parent is None]
    assert len(roots) == 1
    depths = []
    for department in world.departments:
        seen = {department.external_id}
        node = department
        while node.parent is not None:
            assert node.parent in departments
            node = departments[node.parent]
            assert node.external_id not in seen
            seen.add(node.external_id)
        assert node is roots[0]
        depths.append(len(seen))
    assert max(depths) in (3, 4)


@pytest.mark.parametrize("seed", range(6))
def test_tree_size_holds_for_every_seed(seed: int) -> None:
    assert 30 <= len(generate_world(0, seed=seed).departments) <= 60


def test_department_codes_and_names(world: World) -> None:
    codes = {d.code for d in world.departments}
    assert {"FIN", "ICT", "ICT-OPS", "HR", "EXT"} <= codes
    assert any("ë" in d.name for d in world.departments)  # Financiën
    for department in world.departments:
        assert department.code == department.external_id


def test_contracts_point_at_departments_of_the_tree(world: World) -> None:
    departments = world.departments_by_id
    for person in world.persons:
        for contract in person.contracts:
            assert contract.department is not None
            assert contract.department.external_id in departments
            assert contract.department.name == departments[contract.department.external_id].name


# --- managers --------------------------------------------------------------------------


def test_every_unit_is_managed_by_a_person_of_the_world(world: World) -> None:
    for department in world.departments:
        assert department.manager is not None
        manager = world.person(department.manager)
        codes = {c.department.code for c in manager.active_contracts(TODAY) if c.department}
        assert department.code in codes
    managers = [d.manager for d in world.departments]
    assert len(set(managers)) == len(managers)


def test_nobody_manages_themselves(world: World) -> None:
    for person in world.persons:
        assert person.manager is None or person.manager.external_id != person.external_id
        for contract in person.contracts:
            assert contract.manager is None or contract.manager.external_id != person.external_id


def test_a_contract_is_managed_by_its_departments_manager(world: World) -> None:
    departments = world.departments_by_id
    for person in world.persons:
        for contract in person.contracts:
            assert contract.department is not None
            unit = departments[contract.department.external_id or ""]
            if unit.parent is None and unit.manager == person.external_id:
                assert contract.manager is None  # the head of the organisation
                continue
            assert contract.manager is not None
            if unit.manager != person.external_id:
                assert contract.manager.external_id == unit.manager
            else:  # a manager's own manager is the parent unit's manager
                assert unit.parent is not None
                assert contract.manager.external_id == departments[unit.parent].manager
            manager = world.person(contract.manager.external_id)
            assert contract.manager.display_name == manager.display_name


def test_only_the_head_of_the_organisation_has_no_manager(world: World) -> None:
    root = next(d for d in world.departments if d.parent is None)
    without = [p.external_id for p in world.persons if p.manager is None]
    assert without == [root.manager]


def test_the_person_manager_is_the_primary_contracts_manager(world: World) -> None:
    for person in world.persons:
        primary = person.primary_contract(TODAY)
        assert primary is not None
        assert person.manager == primary.manager


def test_small_worlds_manage_what_they_can() -> None:
    world = generate_world(3, seed=2, today=TODAY)
    managed = [d for d in world.departments if d.manager is not None]
    assert len(managed) == 3
    assert managed[0].parent is None  # the root is managed first
    for person in world.persons:
        assert person.manager is None or person.manager.external_id != person.external_id


# --- contracts -------------------------------------------------------------------------


def _ends(contract: Contract) -> dt.date:
    return contract.end or dt.date.max


def test_the_contract_mix_of_a_real_organisation(world: World) -> None:
    kinds: Counter[str] = Counter()
    for person in world.persons:
        contracts = person.contracts
        last_end = max(_ends(c) for c in contracts)
        if all(c.start > TODAY for c in contracts):
            kinds["future joiner"] += 1
            assert min(c.start for c in contracts) <= TODAY + SOON
        if last_end < TODAY:
            kinds["recent leaver"] += 1
            assert last_end >= TODAY - SOON
        if TODAY <= last_end <= TODAY + SOON and person.active_contracts(TODAY):
            kinds["future leaver"] += 1
        kinds[f"{len(contracts)} contracts"] += 1
        active = person.active_contracts(TODAY)
        if len({c.department.code for c in active if c.department}) > 1:
            kinds["positions in several departments"] += 1
            assert sum(c.fte or 0 for c in active) <= 1.0
        if any((c.fte or 0) < 1 for c in contracts):
            kinds["part-time"] += 1
        if any(c.type and c.type.code == "EXT" for c in contracts):
            kinds["external"] += 1
        if any(c.department and c.department.code == "EXT" for c in contracts):
            kinds["in EXT department"] += 1
        if any(c.title and c.title.code == "ICT-ADM" for c in contracts):
            kinds["ICT admin"] += 1
        for old, new in pairwise(contracts):
            if (
                old.end is not None
                and TODAY <= old.end < TODAY + SOON
                and new.start == old.end + dt.timedelta(days=1)
                and new.department != old.department
            ):
                kinds["mover"] += 1
    for kind in (
        "future joiner",
        "recent leaver",
        "future leaver",
        "1 contracts",
        "2 contracts",
        "3 contracts",
        "positions in several departments",
        "part-time",
        "external",
        "in EXT department",
        "ICT admin",
        "mover",
    ):
        assert kinds[kind] > 0, kind
    assert kinds["1 contracts"] > 700  # most people have one contract
    assert 20 <= kinds["future joiner"] <= 80
    assert 20 <= kinds["recent leaver"] <= 80


def test_contracts_are_numbered_and_typed(world: World) -> None:
    for person in world.persons:
        ids = [c.external_id for c in person.contracts]
        assert ids == [f"{person.external_id}-{n}" for n in range(1, len(ids) + 1)]
        assert [c.sequence for c in person.contracts] == list(range(1, len(ids) + 1))
        for contract in person.contracts:
            assert contract.type is not None
            assert contract.type.code in {"VAST", "TIJD", "STAGE", "EXT"}
            assert contract.fte is not None
            assert 0 < contract.fte <= 1
            assert contract.hours_per_week == pytest.approx(contract.fte * 36, abs=0.01)
            for ref in (contract.title, contract.cost_center, contract.employer, contract.location):
                assert ref is not None
                assert ref.code
                assert ref.name


def test_externals_are_hired_through_agencies(world: World) -> None:
    externals = [c for p in world.persons for c in p.contracts if c.type and c.type.code == "EXT"]
    assert externals
    assert all(
        c.employer and c.employer.code and c.employer.code.startswith("EXT") for c in externals
    )


def test_a_handful_of_dutch_cities(world: World) -> None:
    cities = {c.location.name for p in world.persons for c in p.contracts if c.location}
    assert 4 <= len(cities) <= 10
    assert {"Utrecht", "Amsterdam", "'s-Hertogenbosch"} <= cities


# --- names and contact -----------------------------------------------------------------


def test_all_naming_conventions_with_partner_names(world: World) -> None:
    conventions = Counter(p.name.convention for p in world.persons)
    assert set(conventions) == {"B", "BP", "P", "PB"}
    assert conventions["B"] > conventions["P"]
    for person in world.persons:
        if person.name.convention != "B":
            assert person.name.partner
        assert person.display_name == person.name.display
    hyphenated = [p for p in world.persons if p.name.convention in ("BP", "PB")]
    assert all("-" in p.display_name for p in hyphenated)


def test_dutch_prefixes_and_diacritics(world: World) -> None:
    prefixes = {p.name.family_prefix for p in world.persons} | {
        p.name.partner_prefix for p in world.persons
    }
    assert {"van", "de", "van der", "van den", "'t", "in 't", "ter", "ten", "op de"} <= prefixes
    accented = [p for p in world.persons if not p.display_name.isascii()]
    assert 20 <= len(accented) <= 250  # some, not most
    letters = set("".join(p.display_name for p in accented))
    assert len(letters & set("éëïöüçş")) >= 4


def test_nick_names_and_initials(world: World) -> None:
    called_otherwise = [
        p
        for p in world.persons
        if p.name.nick and p.name.given and not p.name.given.startswith(p.name.nick)
    ]
    assert len(called_otherwise) > 50  # Johannes called Jan
    for person in world.persons:
        given = (person.name.given or "").split()
        assert person.name.initials == "".join(f"{g[0]}." for g in given)


def test_business_contact_data(world: World) -> None:
    emails = [p.contact.email for p in world.persons if p.contact.email]
    assert len(emails) == len(set(emails))
    assert len(emails) > 900
    for email in emails:
        local, _, domain = email.partition("@")
        assert domain == EMAIL_DOMAIN
        assert local.isascii()
        assert local.replace(".", "").replace("-", "").isalnum()
    for person in world.persons:
        assert (person.contact.phone or "").startswith("+31 ")
    joiners = [p for p in world.persons if all(c.start > TODAY for c in p.contracts)]
    assert all(p.contact.email is None for p in joiners)  # the mailbox is made on joining


# --- lookups ---------------------------------------------------------------------------


def test_lookups(world: World) -> None:
    person = world.persons[42]
    assert world.person(person.external_id) is person
    assert world.departments_by_id["ICT-OPS"].parent == "ICT"
    with pytest.raises(KeyError, match="999"):
        world.person("999")
