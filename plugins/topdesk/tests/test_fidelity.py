"""What the plugin sends, exactly: a person's whole lifecycle replayed against the simulator.

Each step is one run of the engine (a fresh plugin, so nothing is cached across steps), and
the requests of every step (method, path, query, body, status) must equal
``fidelity/lifecycle.json``. A change in what idsync sends to TOPdesk therefore shows in review
as a change of that file. When the change is meant, write the file anew with

    IDSYNC_RECORD_REQUESTS=1 .venv/bin/pytest plugins/topdesk/tests/test_fidelity.py
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idsync import Change, Contract, Correlation, HookContext, Name, Person, PersonRef, Ref
from idsync.sandbox.simulator import RequestRecording
from idsync_topdesk import TopdeskPlugin
from idsync_topdesk.simulator import TopdeskSimulator

EXPECTED = Path(__file__).parent / "fidelity" / "lifecycle.json"
TODAY = dt.date(2026, 3, 2)

PIET = Person(
    external_id="2001",
    name=Name(given="Piet", family="Jansen", family_prefix="van"),
    manager=PersonRef(external_id="1000"),
    contracts=[Contract(external_id="2001-1", start=dt.date(2025, 1, 1), title=Ref(name="Tester"))],
)
JOINED = {
    "employeeNumber": "2001",
    "surName": "van Jansen",
    "firstName": "Piet",
    "email": "p.vanjansen@example.org",
    "networkLoginName": "pjansen",
    "tasLoginName": "p.vanjansen@example.org",
    "jobTitle": "Tester",
    "branch.name": "Baarn",
    "department.name": "ICT",
    "budgetHolder.name": "Kostenplaats 100",
}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Change]:
    return {
        k: Change(before=before.get(k), after=v) for k, v in after.items() if before.get(k) != v
    }


def test_a_lifecycle_sends_exactly_the_recorded_requests(
    sim: TopdeskSimulator,
    make_plugin: Callable[..., TopdeskPlugin],
    seed: Callable[..., dict[str, Any]],
) -> None:
    boss = seed("1000", surName="Vries", firstName="Anna", tasLoginName="a.devries")
    recording = RequestRecording(EXPECTED, sim.app.log)
    account = dict(JOINED)
    reference = ""

    def run() -> TopdeskPlugin:
        return make_plugin()  # every step is a run of its own: nothing cached between them

    def ctx(**values: Any) -> HookContext:
        return HookContext(system="topdesk", as_of=TODAY, person=PIET, **values)

    def update(plugin: TopdeskPlugin, **new: Any) -> None:
        nonlocal account
        changes = _changes(account, {**account, **new})
        account = {**account, **new}
        result = plugin.idsync_update(
            ctx=ctx(reference=reference, account=account, changes=changes)
        )
        assert result.success, result.messages

    def ok(result: Any) -> Any:
        assert result.success, result.messages
        return result

    plugin = run()
    ok(plugin.idsync_check_connection(ctx=ctx()))
    recording.step("check")

    plugin = run()
    by_number = Correlation(
        person_field="external_id", account_field="employeeNumber", value="2001"
    )
    assert plugin.idsync_correlate(ctx=ctx(correlation=by_number)) == []
    available = plugin.idsync_attribute_available(
        ctx=ctx(), attribute="tasLoginName", value=account["tasLoginName"]
    )
    assert available is True
    reference = str(ok(plugin.idsync_create(ctx=ctx(account=account))).reference)
    ok(plugin.idsync_enable(ctx=ctx(reference=reference)))
    recording.step("join: correlate, create with the manager marked, enable")

    update(run(), email="piet.vanjansen@example.org")
    recording.step("update: a new e-mail address")

    update(
        run(),
        **{"department.name": "Personeelszaken", "branch.name": "Utrecht", "jobTitle": "Adviseur"},
    )
    recording.step("move: another department, branch and title")

    update(
        run(), surName="Bakker", tasLoginName="p.bakker@example.org", email="p.bakker@example.org"
    )
    recording.step("rename: a new surname and login name")

    ok(run().idsync_disable(ctx=ctx(reference=reference)))
    recording.step("leave: archive")

    ok(run().idsync_delete(ctx=ctx(reference=reference, account=account)))
    recording.step("delete: clear the unique fields, keep the card archived")

    plugin = run()
    (found,) = plugin.idsync_correlate(ctx=ctx(correlation=by_number))
    assert (found.reference, found.enabled) == (reference, False)
    account = {**account, "email": "", "networkLoginName": "", "tasLoginName": ""}
    update(
        plugin,
        email="p.bakker@example.org",
        networkLoginName="pbakker",
        tasLoginName="p.bakker@example.org",
    )
    ok(plugin.idsync_enable(ctx=ctx(reference=reference)))
    recording.step("rehire: the archived card correlates, is filled again and unarchived")

    plugin = run()
    accounts = {a.reference: a.enabled for a in plugin.idsync_accounts(ctx=ctx())}
    assert accounts == {boss["id"]: True, reference: True}
    recording.step("reconcile: the accounts listing (v2)")

    plugin = run()
    assert sorted(p["external_id"] for p in plugin.idsync_persons(ctx=ctx())) == ["1000", "2001"]
    recording.step("source: the persons (v2)")

    assert sim.store.person(reference)["surName"] == "Bakker"
    recording.verify()
