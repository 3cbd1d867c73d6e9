"""What the plugin sends, exactly: an employee's whole lifecycle replayed against the simulator.

Each step is one run of the engine (a fresh plugin), and the requests of every step (method,
path, query, body, status) must equal ``fidelity/lifecycle.json``; the password AFAS requires
of a new user is masked. A change in what idsync sends to AFAS therefore shows in review as a
change of that file. When the change is meant, write the file anew with

    IDSYNC_RECORD_REQUESTS=1 .venv/bin/pytest plugins/afas/tests/test_fidelity.py
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from idsync import ActionResult, Change, Correlation
from idsync.sandbox.simulator import RequestRecording

if TYPE_CHECKING:
    from conftest import Afas, Kit
    from idsync_afas import AfasPlugin

EXPECTED = Path(__file__).parent / "fidelity" / "lifecycle.json"


def test_a_lifecycle_sends_exactly_the_recorded_requests(afas: Afas, kit: type[Kit]) -> None:
    data = afas.sim.data
    with data.lock:  # Ruud (1010) and Lotte (1007) have no AFAS user yet
        for user in ("12345.1010", "12345.1007"):
            data.users.remove(data.user(user))  # type: ignore[arg-type]
        data.changed()
    recording = RequestRecording(EXPECTED, afas.log, mask={"Pw"})
    account: dict[str, Any] = {
        "UPN": "ruud.hoek@voorbeeld.nl",
        "Email_werk_gebruiker": "ruud.hoek@voorbeeld.nl",
    }

    def run() -> AfasPlugin:
        # Every step is a run of its own, with the users managed.
        return afas.plugin(manage_users=True, relation_number="12345")

    def ok(result: ActionResult) -> ActionResult:
        assert result.success, result.messages
        return result

    def update(plugin: AfasPlugin, **new: Any) -> ActionResult:
        nonlocal account
        changes = {k: Change(before=account.get(k), after=v) for k, v in new.items()}
        account = {**account, **new}
        return ok(plugin.idsync_update(kit.ctx(reference="1010", account=account, changes=changes)))

    by_number = Correlation(person_field="external_id", account_field="Medewerker", value="1010")

    ok(run().idsync_check_connection(kit.ctx()))
    recording.step("check")

    persons = list(run().idsync_persons(kit.ctx()))
    assert len(persons) == 17  # the good employees and the blocked rows
    recording.step("source: the four GetConnectors")

    plugin = run()
    (found,) = plugin.idsync_correlate(kit.ctx(correlation=by_number))
    assert found.enabled is None  # no user yet
    ok(plugin.idsync_create(kit.ctx(correlation=by_number, account=account)))
    ok(plugin.idsync_enable(kit.ctx(reference="1010")))
    recording.step("join: link the employee, create the AFAS user blocked, unblock it")

    update(run(), Email_werk="ruud@voorbeeld.nl", Telefoonnr_werk="+31 30 765 4321")
    recording.step("update: e-mail and phone through KnEmployee")

    held = update(run(), Telefoonnr_werk="+31 30 765 4321")
    assert held.messages == ["AFAS already holds these values"]
    recording.step("move: nothing AFAS does not hold already, so nothing is sent")

    update(run(), UPN="r.vanthoek@voorbeeld.nl", Email_werk_gebruiker="r.vanthoek@voorbeeld.nl")
    recording.step("rename: a new UPN and user e-mail through KnUser")

    ok(run().idsync_disable(kit.ctx(reference="1010")))
    recording.step("leave: block the user")

    ok(run().idsync_delete(kit.ctx(reference="1010")))
    recording.step("delete: clear the unique fields; the employee and user stay")

    plugin = run()
    (found,) = plugin.idsync_correlate(kit.ctx(correlation=by_number))
    assert found.enabled is False
    account = {"UPN": "r.vanthoek@voorbeeld.nl", "Email_werk_gebruiker": "r.vanthoek@voorbeeld.nl"}
    ok(plugin.idsync_create(kit.ctx(correlation=by_number, account=account)))
    ok(plugin.idsync_enable(kit.ctx(reference="1010")))
    recording.step("rehire: link again, write the UPN back, unblock")

    blocked = afas.plugin().idsync_update(
        kit.ctx(reference="1007", changes={"UPN": Change(before=None, after="lotte@voorbeeld.nl")})
    )
    assert (blocked.success, blocked.blocked) == (False, True)
    recording.step("blocked: without manage_users, an employee without a user is only read")

    recording.verify()
