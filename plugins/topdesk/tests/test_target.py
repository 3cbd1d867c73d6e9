"""TOPdesk persons as a target: correlate, create, update, enable, disable, delete, accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from idsync import (
    ActionKind,
    Change,
    Contract,
    Correlation,
    HookContext,
    Name,
    Person,
    PersonRef,
)
from idsync_topdesk import TopdeskPlugin
from idsync_topdesk.simulator import TopdeskSimulator

Seed = Callable[..., dict[str, Any]]
MakePlugin = Callable[..., TopdeskPlugin]

ACCOUNT = {
    "surName": "Jansen",
    "prefixes": "van",
    "firstName": "Piet",
    "employeeNumber": "2001",
    "email": "p.vanjansen@example.org",
    "networkLoginName": "pjansen",
    "tasLoginName": "p.vanjansen@example.org",
    "jobTitle": "Tester",
    "branch.name": "baarn",
    "department.name": "ICT",
    "budgetHolder.name": "Kostenplaats 100",
}


def ctx(**values: Any) -> HookContext:
    return HookContext(system="topdesk", **values)


def writes(sim: TopdeskSimulator) -> list[tuple[str, str, Any]]:
    """``(method, path without /tas/api, body)`` of every write the simulator saw."""
    return [(r.method, r.path.removeprefix("/tas/api"), r.body) for r in sim.app.log.writes()]


def stored(sim: TopdeskSimulator, person_id: str) -> dict[str, Any]:
    return sim.store.person(person_id)


def reason_id(sim: TopdeskSimulator, name: str = "Persoon uit organisatie") -> str:
    found = sim.store.find("archiving-reasons", name)
    assert found is not None
    return str(found["id"])


# --- correlate and unique values ---------------------------------------------------------


def test_correlate_returns_no_one_or_every_match(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    correlation = Correlation(
        person_field="external_id", account_field="employeeNumber", value="2001"
    )
    assert plugin.idsync_correlate(ctx=ctx(correlation=correlation)) == []

    first = seed("2001", department="ICT", email="p@example.org")
    (account,) = plugin.idsync_correlate(ctx=ctx(correlation=correlation))
    assert account.reference == first["id"]
    assert account.enabled is True
    assert account.data["branch.name"] == "Baarn"
    assert account.data["department.name"] == "ICT"
    assert account.data["email"] == "p@example.org"

    twin = seed("2001", archived=True)
    disputed = plugin.idsync_correlate(ctx=ctx(correlation=correlation))
    assert {(a.reference, a.enabled) for a in disputed} == {
        (first["id"], True),
        (twin["id"], False),
    }
    queries = [r.query for r in sim.app.log.all() if r.path == "/tas/api/persons"]
    assert all("employeeNumber%3D%3D%272001%27" in q for q in queries)
    assert not sim.app.log.writes()


def test_two_active_cards_with_one_employee_number_both_correlate_with_their_ids(
    plugin: TopdeskPlugin, seed: Seed
) -> None:
    first = seed("2001", surName="Jansen", tasLoginName="p.jansen")
    second = seed("2001", surName="Janssen", tasLoginName="p.janssen")
    correlation = Correlation(
        person_field="external_id", account_field="employeeNumber", value="2001"
    )
    matches = plugin.idsync_correlate(ctx=ctx(correlation=correlation))
    # Both cards, each with its TOPdesk id, so the dispute can name them.
    assert [(a.reference, a.data["surName"], a.enabled) for a in matches] == [
        (first["id"], "Jansen", True),
        (second["id"], "Janssen", True),
    ]


def test_correlate_defaults_to_the_employee_number_and_quotes_values(
    plugin: TopdeskPlugin, seed: Seed
) -> None:
    kept = seed("3", email="o'neill@example.org")
    seed("4", email="oneill@example.org")
    person = Person(external_id="3", name=Name(family="O'Neill"))
    assert [a.reference for a in plugin.idsync_correlate(ctx=ctx(person=person))] == [kept["id"]]
    by_mail = Correlation(
        person_field="contact.email", account_field="email", value="o'neill@example.org"
    )
    assert [a.reference for a in plugin.idsync_correlate(ctx=ctx(correlation=by_mail))] == [
        kept["id"]
    ]


def test_attribute_available_ignores_the_persons_own_account(
    plugin: TopdeskPlugin, seed: Seed
) -> None:
    holder = seed("1", tasLoginName="p.jansen")
    ask = plugin.idsync_attribute_available
    assert ask(ctx=ctx(), attribute="tasLoginName", value="p.jansen") is False
    assert ask(ctx=ctx(), attribute="tasLoginName", value="P.Jansen") is False
    assert ask(ctx=ctx(reference=holder["id"]), attribute="tasLoginName", value="p.jansen") is True
    assert ask(ctx=ctx(), attribute="tasLoginName", value="p.jansen2") is True


# --- create ------------------------------------------------------------------------------


def test_create_looks_up_names_and_archives_until_enabled(
    plugin: TopdeskPlugin, sim: TopdeskSimulator
) -> None:
    result = plugin.idsync_create(ctx=ctx(action=ActionKind.CREATE, account=ACCOUNT))
    assert result.success, result.messages
    assert result.reference is not None
    assert result.data == ACCOUNT
    person = stored(sim, result.reference)
    assert person["branch"]["name"] == "Baarn"
    assert person["department"]["name"] == "ICT"
    assert person["budgetHolder"]["name"] == "Kostenplaats 100"
    assert person["dynamicName"] == "Piet van Jansen"
    assert person["status"] == "personArchived"
    (post, archive) = writes(sim)
    assert post[:2] == ("POST", "/persons")
    assert post[2]["branch"] == {"id": person["branch"]["id"]}
    assert "branch.name" not in post[2]
    assert archive == (
        "PATCH",
        f"/persons/id/{result.reference}/archive",
        {"id": reason_id(sim)},
    )

    enabled = plugin.idsync_enable(ctx=ctx(reference=result.reference))
    assert enabled.success
    assert stored(sim, result.reference)["status"] == "person"


def test_create_can_leave_the_person_active(make_plugin: MakePlugin, sim: TopdeskSimulator) -> None:
    result = make_plugin(create_archived=False).idsync_create(ctx=ctx(account=ACCOUNT))
    assert result.reference is not None
    assert stored(sim, result.reference)["status"] == "person"
    assert [w[:2] for w in writes(sim)] == [("POST", "/persons")]


@pytest.mark.parametrize("branch", [None, "", "Amersfoort"])
def test_create_needs_an_existing_branch(
    plugin: TopdeskPlugin, sim: TopdeskSimulator, branch: str | None
) -> None:
    account = {k: v for k, v in ACCOUNT.items() if k != "branch.name"}
    if branch is not None:
        account["branch.name"] = branch
    result = plugin.idsync_create(ctx=ctx(account=account))
    assert not result.success
    assert "branch" in result.messages[0]
    if branch:
        assert "'Amersfoort' does not exist" in result.messages[0]
    assert writes(sim) == []


@pytest.mark.parametrize(
    ("key", "setting", "field"),
    [
        ("department.name", "missing_department", "department"),
        ("budgetHolder.name", "missing_budget_holder", "budgetHolder"),
    ],
)
def test_a_missing_department_or_budget_holder_fails_or_is_cleared(
    make_plugin: MakePlugin, sim: TopdeskSimulator, key: str, setting: str, field: str
) -> None:
    account = {**ACCOUNT, key: "Bestaat Niet"}
    failed = make_plugin(**{setting: "error"}).idsync_create(ctx=ctx(account=account))
    assert not failed.success
    assert "'Bestaat Niet' does not exist in TOPdesk" in failed.messages[0]
    assert writes(sim) == []

    cleared = make_plugin(**{setting: "clear"}).idsync_create(ctx=ctx(account=account))
    assert cleared.success
    assert cleared.reference is not None
    assert stored(sim, cleared.reference)[field] is None
    assert cleared.data[key] is None
    assert any("is cleared" in m for m in cleared.messages)


def test_create_marks_an_archived_manager_as_manager_and_rearchives_it(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    boss = seed("100", archived=True)
    result = plugin.idsync_create(ctx=ctx(account=ACCOUNT, manager_reference=boss["id"]))
    assert result.success, result.messages
    assert result.reference is not None
    assert stored(sim, result.reference)["manager"]["id"] == boss["id"]
    boss_now = stored(sim, boss["id"])
    assert boss_now["isManager"] is True
    assert boss_now["status"] == "personArchived"
    steps = [(m, p.replace(boss["id"], "BOSS")) for m, p, _ in writes(sim)][:4]
    assert steps == [
        ("PATCH", "/persons/id/BOSS/unarchive"),
        ("PATCH", "/persons/id/BOSS"),
        ("PATCH", "/persons/id/BOSS/archive"),
        ("POST", "/persons"),
    ]


def test_create_looks_the_manager_up_by_employee_number(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    boss = seed("100", isManager=True)
    contract = Contract(
        external_id="C1", start=dt.date(2024, 1, 1), manager=PersonRef(external_id="100")
    )
    person = Person(external_id="2001", name=Name(family="Jansen"), contracts=[contract])
    result = plugin.idsync_create(
        ctx=ctx(account=ACCOUNT, person=person, as_of=dt.date(2025, 1, 1))
    )
    assert result.reference is not None
    assert stored(sim, result.reference)["manager"]["id"] == boss["id"]

    orphan = Person(
        external_id="2002", name=Name(family="Wees"), manager=PersonRef(external_id="999")
    )
    account = {**ACCOUNT, "employeeNumber": "2002", "tasLoginName": "wees"}
    lonely = plugin.idsync_create(ctx=ctx(account=account, person=orphan))
    assert lonely.success
    assert lonely.reference is not None
    assert stored(sim, lonely.reference)["manager"] is None
    assert any("manager 999 has no TOPdesk person" in m for m in lonely.messages)


# --- update ------------------------------------------------------------------------------


def test_update_patches_only_the_changed_fields(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("2001", jobTitle="Tester", email="p@example.org", department="ICT")
    changes = {
        "jobTitle": Change(before="Tester", after="Senior tester"),
        "department.name": Change(before="ICT", after="personeelszaken"),
        "email": Change(before="old@example.org", after="p@example.org"),
    }
    account = {
        "jobTitle": "Senior tester",
        "department.name": "personeelszaken",
        "email": "p@example.org",
    }
    result = plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes, account=account))
    assert result.success, result.messages
    personeelszaken = sim.store.find("departments", "Personeelszaken")
    assert personeelszaken is not None
    assert writes(sim) == [
        (
            "PATCH",
            f"/persons/id/{target['id']}",
            {"jobTitle": "Senior tester", "department": {"id": personeelszaken["id"]}},
        )
    ]
    assert result.data == account
    assert stored(sim, target["id"])["jobTitle"] == "Senior tester"

    sim.app.log.clear()
    again = plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes, account=account))
    assert again.success
    assert writes(sim) == []


def test_update_of_an_archived_person_unarchives_and_archives_again(
    make_plugin: MakePlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    plugin = make_plugin(archiving_reason="Dubbele registratie")
    target = seed("2001", archived=True)
    changes = {"jobTitle": Change(before="", after="Beheerder")}
    result = plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes))
    assert result.success, result.messages
    base = f"/persons/id/{target['id']}"
    assert writes(sim) == [
        ("PATCH", f"{base}/unarchive", None),
        ("PATCH", base, {"jobTitle": "Beheerder"}),
        ("PATCH", f"{base}/archive", {"id": reason_id(sim, "Dubbele registratie")}),
    ]
    now = stored(sim, target["id"])
    assert now["status"] == "personArchived"
    assert now["jobTitle"] == "Beheerder"


def test_update_archives_again_when_the_patch_fails(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("2001", archived=True)
    changes = {"gender": Change(before="UNDEFINED", after="UNKNOWN")}
    with pytest.raises(Exception, match="gender must be"):
        plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes))
    assert stored(sim, target["id"])["status"] == "personArchived"
    assert [w[1].rsplit("/", 1)[-1] for w in writes(sim)] == [
        "unarchive",
        target["id"],
        "archive",
    ]


@pytest.mark.parametrize(("policy", "succeeds"), [("error", False), ("clear", True)])
def test_update_to_a_missing_department(
    make_plugin: MakePlugin, seed: Seed, sim: TopdeskSimulator, policy: str, succeeds: bool
) -> None:
    target = seed("2001", department="ICT")
    changes = {"department.name": Change(before="ICT", after="Verdwenen")}
    plugin = make_plugin(missing_department=policy)
    result = plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes))
    assert result.success is succeeds
    if succeeds:
        assert writes(sim) == [
            ("PATCH", f"/persons/id/{target['id']}", {"department": {"id": None}})
        ]
        assert stored(sim, target["id"])["department"] is None
    else:
        assert writes(sim) == []
        assert stored(sim, target["id"])["department"]["name"] == "ICT"


def test_update_follows_a_new_manager(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    old_boss = seed("100", isManager=True)
    new_boss = seed("101")
    target = seed("2001", manager=old_boss["id"])
    changes = {"jobTitle": Change(before="", after="Analist")}
    result = plugin.idsync_update(
        ctx=ctx(reference=target["id"], changes=changes, manager_reference=new_boss["id"])
    )
    assert result.success, result.messages
    assert stored(sim, target["id"])["manager"]["id"] == new_boss["id"]
    assert stored(sim, new_boss["id"])["isManager"] is True
    assert writes(sim)[-1][2] == {"jobTitle": "Analist", "manager": {"id": new_boss["id"]}}


def test_update_of_a_person_that_is_gone_is_not_found(plugin: TopdeskPlugin) -> None:
    changes = {"jobTitle": Change(before="", after="x")}
    result = plugin.idsync_update(ctx=ctx(reference="no-such-id", changes=changes))
    assert not result.success
    assert result.not_found


# --- enable, disable, delete -------------------------------------------------------------


def test_disable_archives_with_the_configured_reason_once(
    make_plugin: MakePlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    plugin = make_plugin(archiving_reason="overleden")
    target = seed("1")
    first = plugin.idsync_disable(ctx=ctx(reference=target["id"]))
    second = plugin.idsync_disable(ctx=ctx(reference=target["id"]))
    assert first.success
    assert second.success
    assert writes(sim) == [
        ("PATCH", f"/persons/id/{target['id']}/archive", {"id": reason_id(sim, "Overleden")})
    ]
    assert sim.store.raw(target["id"])["_reason"] == reason_id(sim, "Overleden")


def test_disable_with_an_unknown_reason_fails_without_writing(
    make_plugin: MakePlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("1")
    result = make_plugin(archiving_reason="Met pensioen").idsync_disable(
        ctx=ctx(reference=target["id"])
    )
    assert not result.success
    assert "archiving reason 'Met pensioen' does not exist" in result.messages[0]
    assert writes(sim) == []


def test_enable_unarchives_once(plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator) -> None:
    target = seed("1", archived=True)
    assert plugin.idsync_enable(ctx=ctx(reference=target["id"])).success
    assert plugin.idsync_enable(ctx=ctx(reference=target["id"])).success
    assert writes(sim) == [("PATCH", f"/persons/id/{target['id']}/unarchive", None)]
    missing = plugin.idsync_enable(ctx=ctx(reference="gone"))
    assert not missing.success
    assert missing.not_found


@pytest.mark.parametrize("hook", ["idsync_disable", "idsync_delete"])
def test_disable_and_delete_of_a_person_that_is_gone_succeed_with_a_warning(
    plugin: TopdeskPlugin, hook: str
) -> None:
    result = getattr(plugin, hook)(ctx=ctx(reference="gone"))
    assert result.success
    assert result.not_found
    assert result.messages[0].startswith("warning:")


def test_delete_clears_the_unique_fields_and_archives(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("1", email="a@example.org", networkLoginName="a", tasLoginName="a@example.org")
    result = plugin.idsync_delete(ctx=ctx(reference=target["id"]))
    assert result.success, result.messages
    base = f"/persons/id/{target['id']}"
    assert writes(sim) == [
        ("PATCH", base, {"email": "", "networkLoginName": "", "tasLoginName": ""}),
        ("PATCH", f"{base}/archive", {"id": reason_id(sim)}),
    ]
    now = stored(sim, target["id"])
    assert now["status"] == "personArchived"
    assert (now["email"], now["networkLoginName"], now["tasLoginName"]) == ("", "", "")
    assert now["employeeNumber"] == "1"  # kept, so a rehire correlates again
    assert result.data == {"email": "", "networkLoginName": "", "tasLoginName": ""}

    sim.app.log.clear()
    assert plugin.idsync_delete(ctx=ctx(reference=target["id"])).success
    assert writes(sim) == []


def test_delete_of_an_archived_person_unarchives_it_to_clear_it(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("1", archived=True, email="a@example.org")
    assert plugin.idsync_delete(ctx=ctx(reference=target["id"])).success
    base = f"/persons/id/{target['id']}"
    assert [w[:2] for w in writes(sim)] == [
        ("PATCH", f"{base}/unarchive"),
        ("PATCH", base),
        ("PATCH", f"{base}/archive"),
    ]
    assert stored(sim, target["id"])["status"] == "personArchived"


# --- dry-run -----------------------------------------------------------------------------


def test_dry_run_reads_but_never_writes(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    boss = seed("100", archived=True)
    active = seed("1", email="a@example.org")
    archived = seed("2", archived=True)
    dry = {"dry_run": True}
    results = [
        plugin.idsync_create(ctx=ctx(account=ACCOUNT, manager_reference=boss["id"], **dry)),
        plugin.idsync_update(
            ctx=ctx(
                reference=archived["id"],
                changes={"jobTitle": Change(after="x"), "department.name": Change(after="ICT")},
                **dry,
            )
        ),
        plugin.idsync_disable(ctx=ctx(reference=active["id"], **dry)),
        plugin.idsync_enable(ctx=ctx(reference=archived["id"], **dry)),
        plugin.idsync_delete(ctx=ctx(reference=active["id"], **dry)),
    ]
    assert all(r.success for r in results), [r.messages for r in results]
    assert all(any(m.startswith("would") for m in r.messages) for r in results)
    assert results[0].reference is None
    assert len(sim.app.log) > 0
    assert sim.app.log.writes() == []


# --- accounts import ---------------------------------------------------------------------


@pytest.mark.parametrize("paging", ["v2", "classic"])
def test_accounts_lists_every_person_with_its_state(
    make_plugin: MakePlugin, seed: Seed, paging: str
) -> None:
    active = [seed(str(n), department="ICT") for n in range(3)]
    archived = seed("9", archived=True)
    accounts = list(make_plugin(paging=paging, page_size=2).idsync_accounts(ctx=ctx()))
    assert {a.reference: a.enabled for a in accounts} == {
        **{p["id"]: True for p in active},
        archived["id"]: False,
    }
    first = next(a for a in accounts if a.reference == active[0]["id"])
    assert first.data["employeeNumber"] == "0"
    assert first.data["department.name"] == "ICT"
    assert first.data["branch.name"] == "Baarn"


def test_update_with_only_a_new_manager_sets_it(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    boss = seed("100", isManager=True)
    target = seed("2001")
    result = plugin.idsync_update(ctx=ctx(reference=target["id"], manager_reference=boss["id"]))
    assert result.success, result.messages
    assert writes(sim) == [
        ("PATCH", f"/persons/id/{target['id']}", {"manager": {"id": boss["id"]}})
    ]
    sim.app.log.clear()
    same = plugin.idsync_update(ctx=ctx(reference=target["id"], manager_reference=boss["id"]))
    assert same.success
    assert writes(sim) == []


def test_concurrent_creates_share_an_archived_manager_safely(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    boss = seed("100", archived=True)

    def create(n: int) -> Any:
        account = {**ACCOUNT, "employeeNumber": str(3000 + n), "tasLoginName": f"user{n}"}
        return plugin.idsync_create(ctx=ctx(account=account, manager_reference=boss["id"]))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, range(6)))
    assert all(r.success for r in results), [r.messages for r in results]
    boss_now = stored(sim, boss["id"])
    assert boss_now["isManager"] is True
    assert boss_now["status"] == "personArchived"
    assert all(stored(sim, str(r.reference))["manager"]["id"] == boss["id"] for r in results)
    marks = [w for w in writes(sim) if w[1] == f"/persons/id/{boss['id']}"]
    assert marks == [("PATCH", f"/persons/id/{boss['id']}", {"isManager": True})]


def test_correlated_accounts_carry_every_plain_field(plugin: TopdeskPlugin, seed: Seed) -> None:
    seed("5", city="Baarn", mobileNumber="0612345678", jobTitle="Tester")
    correlation = Correlation(person_field="external_id", account_field="employeeNumber", value="5")
    (account,) = plugin.idsync_correlate(ctx=ctx(correlation=correlation))
    assert account.data["city"] == "Baarn"
    assert account.data["mobileNumber"] == "0612345678"
    assert account.data["jobTitle"] == "Tester"
    assert "status" not in account.data


def test_a_default_branch_serves_creates_without_one(
    make_plugin: MakePlugin, sim: TopdeskSimulator
) -> None:
    account = {k: v for k, v in ACCOUNT.items() if k != "branch.name"}
    result = make_plugin(default_branch="Utrecht").idsync_create(ctx=ctx(account=account))
    assert result.success, result.messages
    assert result.reference is not None
    assert stored(sim, result.reference)["branch"]["name"] == "Utrecht"
    unknown = make_plugin(default_branch="Amersfoort").idsync_create(ctx=ctx(account=account))
    assert not unknown.success
    assert "'Amersfoort' does not exist" in unknown.messages[0]


def test_an_empty_branch_on_update_leaves_the_branch(
    plugin: TopdeskPlugin, seed: Seed, sim: TopdeskSimulator
) -> None:
    target = seed("1", branch="Utrecht")
    changes = {
        "branch.name": Change(before="Utrecht", after=""),
        "jobTitle": Change(after="Tester"),
    }
    result = plugin.idsync_update(ctx=ctx(reference=target["id"], changes=changes))
    assert result.success, result.messages
    assert "branch.name is empty; the person keeps its branch" in result.messages
    assert writes(sim) == [("PATCH", f"/persons/id/{target['id']}", {"jobTitle": "Tester"})]
    assert stored(sim, target["id"])["branch"]["name"] == "Utrecht"
