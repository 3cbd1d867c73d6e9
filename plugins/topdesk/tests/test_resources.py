"""Resources: branches, departments and budget holders created in TOPdesk when missing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from idsync import HookContext, Permission
from idsync_topdesk import TopdeskPlugin
from idsync_topdesk.simulator import TopdeskSimulator

MakePlugin = Callable[..., TopdeskPlugin]


def ctx(permission: str, *, dry_run: bool = False) -> HookContext:
    return HookContext(system="topdesk", permission=Permission.parse(permission), dry_run=dry_run)


def test_a_missing_branch_is_created_with_its_country(
    plugin: TopdeskPlugin, sim: TopdeskSimulator
) -> None:
    result = plugin.idsync_resource(ctx=ctx("branch:Amersfoort"))
    assert result.success, result.messages
    created = sim.store.find("branches", "Amersfoort")
    assert created is not None
    assert result.reference == created["id"]
    nederland = sim.store.find("countries", "Nederland")
    assert nederland is not None
    (write,) = sim.app.log.writes()
    assert (write.method, write.path) == ("POST", "/tas/api/branches")
    assert write.body == {
        "name": "Amersfoort",
        "postalAddress": {"country": {"id": nederland["id"]}},
        "branchType": "independentBranch",
    }


@pytest.mark.parametrize(
    ("permission", "table"),
    [("department:Inkoop", "departments"), ("budgetholder:Kostenplaats 300", "budgetholders")],
)
def test_missing_departments_and_budget_holders_are_created_once(
    plugin: TopdeskPlugin, sim: TopdeskSimulator, permission: str, table: str
) -> None:
    first = plugin.idsync_resource(ctx=ctx(permission))
    second = plugin.idsync_resource(ctx=ctx(permission))
    assert first.success
    assert second.success
    assert first.reference == second.reference
    assert second.messages == [f"{permission} exists"]
    assert [(w.path, w.body) for w in sim.app.log.writes()] == [
        (f"/tas/api/{table}", {"name": permission.partition(":")[2]})
    ]


def test_existing_resources_match_case_insensitively(
    plugin: TopdeskPlugin, sim: TopdeskSimulator
) -> None:
    result = plugin.idsync_resource(ctx=ctx("department:ict"))
    ict = sim.store.find("departments", "ICT")
    assert ict is not None
    assert result.reference == ict["id"]
    assert sim.app.log.writes() == []


def test_concurrent_calls_create_a_resource_once(
    make_plugin: MakePlugin, sim: TopdeskSimulator
) -> None:
    plugin = make_plugin()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: plugin.idsync_resource(ctx=ctx("branch:Zeist")), range(8))
        )
    assert all(r.success for r in results)
    assert len({r.reference for r in results}) == 1
    assert len(sim.app.log.writes()) == 1


def test_dry_run_and_bad_resources_write_nothing(
    make_plugin: MakePlugin, sim: TopdeskSimulator
) -> None:
    plugin = make_plugin()
    dry = plugin.idsync_resource(ctx=ctx("branch:Zeist", dry_run=True))
    assert dry.success
    assert dry.messages == ["would create branch:Zeist"]
    unknown = plugin.idsync_resource(ctx=ctx("group:Zeist"))
    assert not unknown.success
    assert "branch:" in unknown.messages[0]
    no_country = make_plugin(branch_country="Atlantis").idsync_resource(ctx=ctx("branch:Zeist"))
    assert not no_country.success
    assert "Atlantis" in no_country.messages[0]
    assert sim.app.log.writes() == []
    assert sim.store.find("branches", "Zeist") is None
