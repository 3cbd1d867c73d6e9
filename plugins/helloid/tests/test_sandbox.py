"""The sandbox hook: a simulator seeded from a world, usable with its own environment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pluggy
from idsync import (
    Contract,
    Correlation,
    Department,
    HookContext,
    Name,
    Person,
    PersonRef,
    Ref,
    hookspecs,
)
from idsync.sandbox import hookspecs as sandbox_hookspecs
from idsync.sandbox.simulator import SandboxApp, serve
from idsync.sandbox.world import World
from idsync_helloid import HelloIDPlugin, HelloIDSettings
from idsync_helloid.simulator import HelloIDStore

TODAY = dt.date(2025, 3, 1)
FAMILIES = [
    "Jansen",
    "de Vries",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
]


def _world(seed: int) -> World:
    departments = [
        Department(external_id=f"D{i}", name=name, code=code)
        for i, (name, code) in enumerate(
            [("Sales", "SALES"), ("Human Resources", "HR"), ("Finance", "FIN"), ("ICT", "ICT")]
        )
    ]
    persons = []
    for i, family in enumerate(FAMILIES):
        prefix, _, last = family.rpartition(" ")
        department = departments[i % 4]
        ended = i == 11
        persons.append(
            Person(
                external_id=f"{1000 + i}",
                name=Name(
                    given=f"Given{i}", nick=f"Nick{i}", family=last, family_prefix=prefix or None
                ),
                contact={"email": f"nick{i}.{last.lower()}@enyoi.org"},
                manager=PersonRef(external_id="1000") if i else None,
                contracts=[
                    Contract(
                        external_id=f"C{i}",
                        start=dt.date(2020, 1, 1),
                        end=dt.date(2024, 12, 31) if ended else None,
                        department=Ref(
                            external_id=department.external_id,
                            code=department.code,
                            name=department.name,
                        ),
                        title=Ref(name="Adviseur"),
                        fte=1.0,
                    )
                ],
            )
        )
    return World(seed=seed, today=TODAY, departments=departments, persons=persons)


def _sandbox(seed: int) -> SandboxApp:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.add_hookspecs(sandbox_hookspecs)
    manager.register(HelloIDPlugin())
    manager.check_pending()
    app = manager.hook.idsync_sandbox(world=_world(seed))
    assert isinstance(app, SandboxApp)
    return app


def _store(app: SandboxApp) -> HelloIDStore:
    store = app.app.app.app.state.store  # type: ignore[attr-defined]
    assert isinstance(store, HelloIDStore)
    return store


def _names(store: HelloIDStore) -> list[str]:
    return sorted(u["userName"] for u in store.users.values())


def test_the_sandbox_is_seeded_from_the_world_reproducibly() -> None:
    app = _sandbox(seed=1)
    assert (app.name, app.mount) == ("helloid", "/api/v1")
    assert app.env["HELLOID_BASE_URL"] == "{url}"
    assert set(app.env) == {"HELLOID_BASE_URL", "HELLOID_API_KEY", "HELLOID_API_SECRET"}
    store = _store(app)
    assert _names(store) == _names(_store(_sandbox(seed=1)))
    assert _names(store) != _names(_store(_sandbox(seed=2)))
    world = _world(1)
    by_email = {p.contact.email: p for p in world.persons}
    people = [u for u in store.users.values() if u["userName"] in by_email]
    assert len(people) == 4
    for user in people:
        person = by_email[user["userName"]]
        assert user["userAttributes"]["employeeId"] == person.external_id
        assert user["lastName"] == person.name.full_family
    assert sum(u["isDeleted"] for u in store.users.values()) == 1
    orphans = {u["userName"] for u in store.users.values()} - set(by_email)
    assert orphans == {"former.employee@enyoi.org", "test.account@enyoi.org"}
    groups = {g["name"] for g in store.groups.values()}
    assert {"ICT Admins", "Remote Workers"} <= groups
    assert len([g for g in groups if g.startswith("department_")]) == 2
    assert len(store.products) == 5
    members = [
        u for g in store.groups.values() if g["name"].startswith("department_") for u in g["users"]
    ]
    assert all(store.users[m]["userName"] in by_email for m in members)
    assert app.summary == "HelloID: 5 users, 4 groups, 5 self-service products"


def test_the_sandbox_serves_with_its_own_credentials() -> None:
    app = _sandbox(seed=3)
    store = _store(app)
    seeded = next(
        u
        for u in store.users.values()
        if not u["isDeleted"] and u["userAttributes"].get("employeeId")
    )
    with serve(app.app) as server:
        env = {k: v.replace("{url}", server.url + app.mount) for k, v in app.env.items()}
        settings = HelloIDSettings(
            base_url=env["HELLOID_BASE_URL"],
            api_key=env["HELLOID_API_KEY"],
            api_secret=env["HELLOID_API_SECRET"],
        )
        plugin = HelloIDPlugin(settings=settings)
        try:
            ctx: Callable[..., HookContext] = lambda **v: HookContext(system="helloid", **v)  # noqa: E731
            assert plugin.idsync_check_connection(ctx=ctx()).success
            found = plugin.idsync_correlate(
                ctx=ctx(
                    correlation=Correlation(
                        person_field="external_id",
                        account_field="userAttributes.employeeId",
                        value=seeded["userAttributes"]["employeeId"],
                    )
                )
            )
            assert [a.reference for a in found] == [seeded["userGUID"]]
            accounts = list(plugin.idsync_accounts(ctx=ctx()))
            assert len(accounts) == len(store.users)
            held = [p for a in accounts for p in a.permissions]
            assert any(p.startswith("product:") for p in held) or not store.assignments
        finally:
            plugin.close()


def test_an_empty_world_gives_a_tenant_with_only_orphans_groups_and_products() -> None:
    app = HelloIDPlugin().idsync_sandbox(world=World(seed=5, today=TODAY))
    assert app is not None
    store = _store(app)
    assert _names(store) == ["former.employee@example.org", "test.account@example.org"]
    assert {g["name"] for g in store.groups.values()} == {"ICT Admins", "Remote Workers"}
