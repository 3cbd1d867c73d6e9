"""AFAS users managed by the write-back (``manage_users``): disable blocks, enable unblocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from idsync import Correlation

if TYPE_CHECKING:
    from conftest import Afas, Kit
    from idsync_afas import AfasPlugin


def managed(afas: Afas) -> AfasPlugin:
    return afas.plugin(manage_users=True, relation_number="12345")


def blocked(afas: Afas, user_id: str) -> Any:
    user = afas.sim.data.user(user_id)
    assert user is not None
    return user["Geblokkeerd"]


def knuser_writes(afas: Afas) -> list[Any]:
    return [(w.method, w.path.rsplit("/", 1)[1], w.body) for w in afas.log.writes()]


def test_disable_blocks_and_enable_unblocks_the_user_once(afas: Afas, kit: type[Kit]) -> None:
    plugin = managed(afas)
    disabled = plugin.idsync_disable(kit.ctx(reference="1003"))
    assert disabled.success, disabled.messages
    assert disabled.messages == ["blocked AFAS user 12345.1003"]
    assert blocked(afas, "12345.1003") is True
    again = plugin.idsync_disable(kit.ctx(reference="1003"))
    assert again.messages == ["AFAS user 12345.1003 is blocked already"]
    enabled = plugin.idsync_enable(kit.ctx(reference="1003"))
    assert enabled.messages == ["unblocked AFAS user 12345.1003"]
    assert blocked(afas, "12345.1003") is False
    assert plugin.idsync_enable(kit.ctx(reference="1003")).messages == [
        "AFAS user 12345.1003 is not blocked already"
    ]
    body = {"KnUser": {"Element": {"@UsId": "12345.1003", "Fields": {"MtCd": 2}}}}
    unblock = {"KnUser": {"Element": {"@UsId": "12345.1003", "Fields": {"MtCd": 6}}}}
    assert knuser_writes(afas) == [("PUT", "KnUser", body), ("PUT", "KnUser", unblock)]


def test_dry_run_reads_the_user_and_writes_nothing(afas: Afas, kit: type[Kit]) -> None:
    plugin = managed(afas)
    preview = plugin.idsync_disable(kit.ctx(reference="1003", dry_run=True))
    assert preview.messages == ["dry-run: would block AFAS user 12345.1003"]
    assert afas.log.writes() == []
    assert blocked(afas, "12345.1003") is False


def test_without_a_user_or_employee_there_is_nothing_to_block(afas: Afas, kit: type[Kit]) -> None:
    data = afas.sim.data
    with data.lock:
        data.users.remove(data.user("12345.1003"))  # type: ignore[arg-type]
        data.changed()
    plugin = managed(afas)
    assert plugin.idsync_disable(kit.ctx(reference="1003")).messages == [
        "employee 1003 has no AFAS user; nothing to block"
    ]
    gone = plugin.idsync_disable(kit.ctx(reference="9999"))
    assert (gone.success, gone.not_found) == (True, True)
    missing = plugin.idsync_enable(kit.ctx(reference="9999"))
    assert (missing.success, missing.not_found) == (False, True)
    assert afas.log.writes() == []


@pytest.mark.parametrize("manage", [True, False])
def test_accounts_are_enabled_by_their_user_only_when_users_are_managed(
    afas: Afas, kit: type[Kit], manage: bool
) -> None:
    managed(afas).idsync_disable(kit.ctx(reference="1003"))
    plugin = managed(afas) if manage else afas.plugin()
    accounts = {a.reference: a.enabled for a in plugin.idsync_accounts(kit.ctx())}
    by_number = Correlation(person_field="external_id", account_field="Medewerker", value="1003")
    (found,) = plugin.idsync_correlate(kit.ctx(correlation=by_number))
    if manage:
        assert accounts["1003"] is False
        assert accounts["1002"] is True
        assert found.enabled is False
    else:
        assert set(accounts.values()) == {None}
        assert found.enabled is None
