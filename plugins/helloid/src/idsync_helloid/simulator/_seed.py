"""Filling a simulated tenant from the sandbox world, as a tenant looks before idsync arrives.

Chosen with the world's seed, so the same world always gives the same tenant:

- accounts for about a third of the persons, made by hand earlier (so correlation matters):
  ``userName`` is the business e-mail, ``userAttributes.employeeId`` the person's external id;
  enabled while a contract is active, one of them soft-deleted;
- two accounts that belong to nobody (for reconciliation);
- the groups ``ICT Admins`` and ``Remote Workers``, and ``department_<code>`` groups for about
  half of the departments (the resource rule creates the others), with the account holders as
  members of their department's group;
- a few self-service products, some of them assigned.
"""

from __future__ import annotations

import random
import re
import unicodedata

from idsync.model import Person
from idsync.sandbox.world import World

from idsync_helloid.simulator._store import HelloIDStore

__all__ = ["PRODUCTS", "STATIC_GROUPS", "department_group", "seed_world", "user_name"]

STATIC_GROUPS = ("ICT Admins", "Remote Workers")
PRODUCTS = (
    ("Laptop", "LAPTOP", "A standard laptop with docking station"),
    ("Mobile phone", "PHONE", "A company smartphone"),
    ("Parking permit", "PARKING", "Access to the staff car park"),
    ("VPN access", "VPN", "Remote access to the internal network"),
    ("Adobe Acrobat Pro", "ACROBAT", "A licence for Adobe Acrobat Pro"),
)
DOMAIN = "example.org"


def department_group(code: str) -> str:
    """The name of a department's group: ``department_<code>``."""
    return f"department_{code}"


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower().replace(" ", ""))


def user_name(person: Person) -> str:
    """A person's HelloID user name: the business e-mail, else ``first.family@example.org``."""
    email = person.contact.email
    if email and "@" in email:
        return email
    return f"{_slug(person.name.first) or 'user'}.{_slug(person.name.full_family)}@{DOMAIN}"


def seed_world(store: HelloIDStore, world: World, *, share: float = 1 / 3) -> None:
    """Fill ``store`` from ``world``; ``share`` is the part of the persons that has an account."""
    rng = random.Random(f"helloid-sandbox:{world.seed}")
    for name in STATIC_GROUPS:
        store.create_group({"name": name, "isEnabled": True})
    departments = sorted(world.departments, key=lambda d: d.external_id)
    grouped = rng.sample(departments, k=len(departments) // 2)
    for department in sorted(grouped, key=lambda d: d.external_id):
        store.create_group(
            {"name": department_group(department.code or department.external_id), "isEnabled": True}
        )
    products = [store.add_product(name, code, text) for name, code, text in PRODUCTS]

    persons = sorted(world.persons, key=lambda p: p.external_id)
    chosen = sorted(rng.sample(persons, k=round(len(persons) * share)), key=lambda p: p.external_id)
    guids: dict[str, str] = {}
    for person in chosen:
        name = user_name(person)
        if store.user_by_name(name) is not None:
            continue
        contract = person.primary_contract(world.today)
        attributes = {"employeeId": person.external_id}
        if contract is not None and contract.department is not None and contract.department.name:
            attributes["department"] = contract.department.name
        if contract is not None and contract.title is not None and contract.title.name:
            attributes["title"] = contract.title.name
        user = store.create_user(
            {
                "userName": name,
                "firstName": person.name.first or None,
                "lastName": person.name.full_family,
                "contactEmail": person.contact.email,
                "isEnabled": bool(person.active_contracts(world.today)),
                "source": "Local",
                "userAttributes": attributes,
            }
        )
        guids[person.external_id] = user["userGUID"]
        unit = contract.department if contract is not None else None
        code = unit.code or unit.external_id if unit is not None else None
        if code and store.has_group(department_group(code)):
            store.add_member(user["userGUID"], department_group(code))
        for product in rng.sample(products, k=rng.choice((0, 0, 1, 2))):
            store.assign(product["productId"], user["userGUID"])
    for person in chosen:
        contract = person.primary_contract(world.today)
        boss = person.manager or (contract.manager if contract is not None else None)
        manager = boss.external_id if boss is not None else None
        if person.external_id in guids and manager in guids and manager != person.external_id:
            user = store.get_user(guids[person.external_id])
            store.update_user(user["userGUID"], {**user, "managedByUserGUID": guids[manager]})
    if len(guids) >= 3:
        # Someone left and their account was deleted by hand: a leaver when there is one.
        leavers = [
            p.external_id
            for p in chosen
            if p.external_id in guids and not p.active_contracts(world.today)
        ]
        gone = leavers[0] if leavers else sorted(guids)[rng.randrange(len(guids))]
        store.delete_user(guids[gone])
    domain = next(
        (
            p.contact.email.split("@", 1)[1]
            for p in persons
            if p.contact.email and "@" in p.contact.email
        ),
        DOMAIN,
    )
    for local, first, last in (
        ("former.employee", "Former", "Employee"),
        ("test.account", "Test", "Account"),
    ):
        if store.user_by_name(f"{local}@{domain}") is not None:
            continue
        store.create_user(
            {
                "userName": f"{local}@{domain}",
                "firstName": first,
                "lastName": last,
                "contactEmail": f"{local}@{domain}",
                "isEnabled": local == "test.account",
                "source": "Local",
                "userAttributes": {},
            }
        )
