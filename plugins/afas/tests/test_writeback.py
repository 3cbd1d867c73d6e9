"""The write-back target: only changed fields go to KnEmployee and KnUser; nothing is created
or deleted; dry-run writes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from idsync import Change, Correlation
from idsync_afas import AfasError

if TYPE_CHECKING:
    from conftest import Afas, Kit


def changes(**values: tuple[Any, Any]) -> dict[str, Change]:
    return {k: Change(before=b, after=a) for k, (b, a) in values.items()}


def user_row(afas: Afas, number: str) -> dict[str, Any]:
    rows = afas.get(
        "T4E_HelloID_Users_v2",
        filterfieldids="Medewerker",
        filtervalues=number,
        operatortypes=1,
    ).json()["rows"]
    assert len(rows) == 1
    return rows[0]


def test_update_sends_only_the_changed_fields(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    account = {
        "UPN": "jan.vanderberg@voorbeeld.nl",
        "Email_werk": "jan@voorbeeld.nl",
        "Telefoonnr_werk": "+31 30 123 4567",
    }
    result = plugin.idsync_update(
        kit.ctx(
            reference="1002",
            account=account,
            changes=changes(
                UPN=(None, account["UPN"]), Email_werk=("1002@voorbeeld.nl", account["Email_werk"])
            ),
        )
    )
    assert result.success, result.messages
    assert result.data == account
    writes = afas.log.writes()
    assert [(w.method, w.path.rsplit("/", 1)[1]) for w in writes] == [
        ("PUT", "KnEmployee"),
        ("PUT", "KnUser"),
    ]
    assert writes[0].body == {
        "AfasEmployee": {
            "Element": {
                "@EmId": "1002",
                "Objects": [
                    {
                        "KnPerson": {
                            "Element": {
                                "Fields": {
                                    "MatchPer": 0,
                                    "BcCo": "P1002",
                                    "EmAd": "jan@voorbeeld.nl",
                                }
                            }
                        }
                    }
                ],
            }
        }
    }
    assert writes[1].body == {
        "KnUser": {
            "Element": {
                "@UsId": "12345.1002",
                "Fields": {"MtCd": 1, "Upn": "jan.vanderberg@voorbeeld.nl"},
            }
        }
    }
    row = user_row(afas, "1002")
    assert (row["UPN"], row["Email_werk"], row["Telefoonnr_werk"]) == (
        "jan.vanderberg@voorbeeld.nl",
        "jan@voorbeeld.nl",
        "+31 30 123 4567",
    )


def test_update_skips_what_afas_already_holds(afas: Afas, kit: type[Kit]) -> None:
    """The state idsync remembers may be stale: AFAS's current value decides what is sent."""
    plugin = afas.plugin()
    result = plugin.idsync_update(
        kit.ctx(
            reference="1003",
            account={"Email_werk": "1003@voorbeeld.nl", "InSite": "false"},
            changes=changes(
                Email_werk=("old@voorbeeld.nl", "1003@voorbeeld.nl"), InSite=(True, "false")
            ),
        )
    )
    assert result.success
    (write,) = afas.log.writes()
    assert write.body["KnUser"]["Element"]["Fields"] == {"MtCd": 1, "InSi": False}
    assert user_row(afas, "1003")["InSite"] is False

    afas.log.clear()
    again = plugin.idsync_update(
        kit.ctx(reference="1003", account={"InSite": False}, changes=changes(InSite=(True, False)))
    )
    assert again.success
    assert again.messages == ["AFAS already holds these values"]
    assert afas.log.writes() == []


def test_simulator_rejects_unchanged_values(afas: Afas) -> None:
    body = {
        "AfasEmployee": {
            "Element": {
                "@EmId": "1004",
                "Objects": [
                    {
                        "KnPerson": {
                            "Element": {
                                "Fields": {
                                    "MatchPer": 0,
                                    "BcCo": "P1004",
                                    "EmAd": "1004@voorbeeld.nl",
                                }
                            }
                        }
                    }
                ],
            }
        }
    }
    with afas.http() as client:
        response = client.put("/connectors/KnEmployee", json=body)
        assert response.status_code == 500
        error = response.json()
        assert set(error) == {"externalMessage", "errorNumber", "profitLogReference"}
        assert "EmAd" in error["externalMessage"]
        assert "niet gewijzigd" in error["externalMessage"]
        assert len(error["profitLogReference"]) == 32

        user = {"KnUser": {"Element": {"@UsId": "12345.1004", "Fields": {"MtCd": 1, "InSi": True}}}}
        response = client.put("/connectors/KnUser", json=user)
        assert response.status_code == 500
        assert "InSi" in response.json()["externalMessage"]

        # a changed value is accepted, and the same write a second time is refused
        user["KnUser"]["Element"]["Fields"] = {"MtCd": 1, "Upn": "zoe@voorbeeld.nl"}
        assert client.put("/connectors/KnUser", json=user).status_code == 200
        assert client.put("/connectors/KnUser", json=user).status_code == 500


def test_failed_write_reports_afas_message(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    first = plugin.idsync_update(
        kit.ctx(
            reference="1001",
            account={"UPN": "shared@voorbeeld.nl"},
            changes=changes(UPN=(None, "shared@voorbeeld.nl")),
        )
    )
    assert first.success
    with pytest.raises(AfasError) as caught:
        plugin.idsync_update(
            kit.ctx(
                reference="1002",
                account={"UPN": "SHARED@voorbeeld.nl"},
                changes=changes(UPN=(None, "SHARED@voorbeeld.nl")),
            )
        )
    message = str(caught.value)
    assert message.startswith("PUT /connectors/KnUser: AFAS answered HTTP 500: ")
    assert "is al in gebruik bij gebruiker '12345.1001'" in message
    assert "log reference" in message
    assert caught.value.retriable is False
    assert len([w for w in afas.log.writes() if w.path.endswith("KnUser")]) == 2  # not retried


def test_dry_run_writes_nothing(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    update = plugin.idsync_update(
        kit.ctx(
            dry_run=True,
            reference="1002",
            account={"UPN": "x@voorbeeld.nl"},
            changes=changes(UPN=(None, "x@voorbeeld.nl")),
        )
    )
    create = plugin.idsync_create(
        kit.ctx(
            dry_run=True,
            account={"UPN": "y@voorbeeld.nl", "Mobielnr_werk": "+31 6 12345678"},
            correlation=Correlation(
                person_field="external_id", account_field="Medewerker", value="1003"
            ),
        )
    )
    delete = plugin.idsync_delete(kit.ctx(dry_run=True, reference="1004"))
    assert update.success
    assert create.success
    assert delete.success
    assert update.messages == ["dry-run: would write UPN"]
    assert create.messages[-1] == "dry-run: would write UPN, Mobielnr_werk"
    assert delete.messages[-1] == "dry-run: would write Email_werk"
    assert afas.log.writes() == []
    assert afas.log.all(), "dry-run still reads"


def test_create_links_to_the_existing_employee_and_never_creates(
    afas: Afas, kit: type[Kit]
) -> None:
    plugin = afas.plugin()
    correlation = Correlation(person_field="external_id", account_field="Medewerker", value="1010")
    result = plugin.idsync_create(
        kit.ctx(account={"UPN": "ruud@voorbeeld.nl"}, correlation=correlation)
    )
    assert result.success
    assert result.reference == "1010"
    assert result.messages[0] == "linked to existing AFAS employee 1010 (never created)"
    assert [w.path.rsplit("/", 1)[1] for w in afas.log.writes()] == ["KnUser"]
    assert user_row(afas, "1010")["UPN"] == "ruud@voorbeeld.nl"

    missing = Correlation(person_field="external_id", account_field="Medewerker", value="9999")
    result = plugin.idsync_create(
        kit.ctx(account={"UPN": "nobody@voorbeeld.nl"}, correlation=missing)
    )
    assert not result.success
    assert "never created" in result.messages[0]
    assert "9999" in result.messages[0]
    assert not any(w.method == "POST" for w in afas.log.writes())


def test_delete_clears_the_unique_fields_and_keeps_the_employee(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    plugin.idsync_update(
        kit.ctx(
            reference="1004",
            account={"UPN": "zoe@voorbeeld.nl"},
            changes=changes(UPN=(None, "zoe@voorbeeld.nl")),
        )
    )
    afas.log.clear()
    result = plugin.idsync_delete(kit.ctx(reference="1004"))
    assert result.success
    assert not result.not_found
    assert result.data == {"Email_werk": None, "UPN": None, "Email_werk_gebruiker": None}
    employee, user = (w.body for w in afas.log.writes())
    assert employee["AfasEmployee"]["Element"]["Objects"][0]["KnPerson"]["Element"]["Fields"] == {
        "MatchPer": 0,
        "BcCo": "P1004",
        "EmAd": "",
    }
    assert user["KnUser"]["Element"]["Fields"] == {
        "MtCd": 1,
        "Upn": "",
    }  # Email_werk_gebruiker was empty
    row = user_row(afas, "1004")
    assert (row["Email_werk"], row["UPN"], row["Medewerker"]) == (None, None, "1004")

    gone = plugin.idsync_delete(kit.ctx(reference="9999"))
    assert gone.success
    assert gone.not_found
    assert "warning" in gone.messages[0]


def test_update_of_a_vanished_employee_is_not_found(afas: Afas, kit: type[Kit]) -> None:
    result = afas.plugin().idsync_update(
        kit.ctx(reference="9999", account={"UPN": "a@b.nl"}, changes=changes(UPN=(None, "a@b.nl")))
    )
    assert not result.success
    assert result.not_found


def test_unknown_and_read_only_keys_fail_clearly(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    result = plugin.idsync_update(
        kit.ctx(reference="1002", account={"mail": "x"}, changes=changes(mail=(None, "x")))
    )
    assert not result.success
    assert "unknown account keys ['mail']" in result.messages[0]
    assert "UPN" in result.messages[0]
    result = plugin.idsync_update(
        kit.ctx(
            reference="1002",
            account={"Medewerker": "1003"},
            changes=changes(Medewerker=("1002", "1003")),
        )
    )
    assert not result.success
    assert "Medewerker cannot be changed" in result.messages[0]
    result = plugin.idsync_update(
        kit.ctx(
            reference="1002",
            account={"InSite": "misschien"},
            changes=changes(InSite=(True, "misschien")),
        )
    )
    assert not result.success
    assert "is not true or false" in result.messages[0]
    assert afas.log.writes() == []


def _without_user(afas: Afas, number: str) -> None:
    data = afas.sim.data
    with data.lock:
        data.users.remove(data.user(f"12345.{number}"))  # type: ignore[arg-type]
        data.changed()


@pytest.mark.parametrize("dry_run", [True, False])
def test_user_fields_of_an_employee_without_a_user_are_blocked(
    afas: Afas, kit: type[Kit], dry_run: bool
) -> None:
    _without_user(afas, "1007")
    result = afas.plugin().idsync_update(
        kit.ctx(
            reference="1007",
            dry_run=dry_run,
            account={"UPN": "lotte@voorbeeld.nl", "Email_werk": "lotte@voorbeeld.nl"},
            changes=changes(
                UPN=(None, "lotte@voorbeeld.nl"), Email_werk=(None, "lotte@voorbeeld.nl")
            ),
        )
    )
    # The same answer under dry-run as in the run: read, not guessed.
    assert (result.success, result.blocked) == (False, True)
    assert result.messages == [
        "employee 1007 has no AFAS user (Gebruiker is empty), so UPN cannot be written: "
        "create the user in AFAS Profit, or let idsync create it (setting manage_users)"
    ]
    assert afas.log.writes() == []  # not even the KnEmployee half


def test_employee_fields_need_no_user(afas: Afas, kit: type[Kit]) -> None:
    _without_user(afas, "1007")
    result = afas.plugin().idsync_update(
        kit.ctx(
            reference="1007",
            account={"Email_werk": "lotte@voorbeeld.nl"},
            changes=changes(Email_werk=(None, "lotte@voorbeeld.nl")),
        )
    )
    assert result.success, result.messages
    assert [w.path.rsplit("/", 1)[1] for w in afas.log.writes()] == ["KnEmployee"]


def test_manage_users_creates_the_missing_user_and_dry_run_says_so(
    afas: Afas, kit: type[Kit]
) -> None:
    _without_user(afas, "1007")
    plugin = afas.plugin(manage_users=True, relation_number="12345")
    ctx = kit.ctx(
        reference="1007",
        account={"UPN": "lotte@voorbeeld.nl", "InSite": True},
        changes=changes(UPN=(None, "lotte@voorbeeld.nl"), InSite=(None, True)),
    )
    preview = plugin.idsync_update(ctx.model_copy(update={"dry_run": True}))
    assert preview.success, preview.messages
    assert preview.messages == [
        "dry-run: would create AFAS user 12345.1007 (blocked until enabled) and write UPN, InSite"
    ]
    assert afas.log.writes() == []

    result = plugin.idsync_update(ctx)
    assert result.success, result.messages
    assert result.messages == [
        "created AFAS user 12345.1007 and wrote UPN, InSite",
        "blocked AFAS user 12345.1007 until it is enabled",
    ]
    write, block = afas.log.writes()
    assert block.body == {"KnUser": {"Element": {"@UsId": "12345.1007", "Fields": {"MtCd": 2}}}}
    assert (write.method, write.path) == ("POST", "/profitrestservices/connectors/KnUser")
    fields = write.body["KnUser"]["Element"]["Fields"]
    password = fields.pop("Pw")
    assert isinstance(password, str)
    assert len(password) >= 16
    assert write.body["KnUser"]["Element"]["@UsId"] == "12345.1007"
    assert fields == {
        "MtCd": 1,
        "BcCo": "P1007",
        "Nm": "Lotte Smit",
        "Upn": "lotte@voorbeeld.nl",
        "InSi": True,
        **dict.fromkeys(("Awin", "Acon", "Abac", "Acom", "OcUs", "PoMa", "AcUs"), False),
    }
    assert password not in " ".join(result.messages)
    row = user_row(afas, "1007")
    assert (row["Gebruiker"], row["UPN"], row["InSite"], row["Geblokkeerd"]) == (
        "12345.1007",
        "lotte@voorbeeld.nl",
        True,
        True,
    )
    # The next update is an ordinary one.
    again = plugin.idsync_update(
        kit.ctx(
            reference="1007", changes=changes(UPN=("lotte@voorbeeld.nl", "l.smit@voorbeeld.nl"))
        )
    )
    assert again.messages == ["wrote UPN"]


def test_new_user_ids_are_cut_to_twenty_characters(afas: Afas, kit: type[Kit]) -> None:
    _without_user(afas, "1007")
    plugin = afas.plugin(manage_users=True, relation_number="123456789012345678")
    result = plugin.idsync_update(
        kit.ctx(reference="1007", changes=changes(UPN=(None, "lotte@voorbeeld.nl")))
    )
    assert result.success, result.messages
    assert user_row(afas, "1007")["Gebruiker"] == "123456789012345678.1"


def test_correlate_and_accounts(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin(page_size=3)
    by_number = Correlation(person_field="external_id", account_field="Medewerker", value="1003")
    (account,) = plugin.idsync_correlate(kit.ctx(correlation=by_number))
    assert account.reference == "1003"
    assert account.data["Persoonsnummer"] == "P1003"
    assert account.data["Gebruiker"] == "12345.1003"
    assert account.data["Email_werk"] == "1003@voorbeeld.nl"
    assert account.data["InSite"] is True
    nobody = Correlation(person_field="external_id", account_field="Medewerker", value="4242")
    assert plugin.idsync_correlate(kit.ctx(correlation=nobody)) == []
    by_mail = Correlation(
        person_field="contact.email", account_field="Email_werk", value="1003@VOORBEELD.nl"
    )
    assert [a.reference for a in plugin.idsync_correlate(kit.ctx(correlation=by_mail))] == ["1003"]
    numbers = [a.reference for a in plugin.idsync_accounts(kit.ctx())]
    assert numbers == sorted(numbers)
    assert {"1001", "1005", "2001"} <= set(numbers)


def test_attribute_available(afas: Afas, kit: type[Kit]) -> None:
    plugin = afas.plugin()
    plugin.idsync_update(
        kit.ctx(
            reference="1002",
            account={"UPN": "jan@voorbeeld.nl"},
            changes=changes(UPN=(None, "jan@voorbeeld.nl")),
        )
    )
    assert (
        plugin.idsync_attribute_available(kit.ctx(reference="1003"), "UPN", "jan@voorbeeld.nl")
        is False
    )
    assert (
        plugin.idsync_attribute_available(kit.ctx(reference="1002"), "UPN", "jan@voorbeeld.nl")
        is True
    )
    assert (
        plugin.idsync_attribute_available(kit.ctx(reference="1003"), "UPN", "vrij@voorbeeld.nl")
        is True
    )


def test_filter_values_with_separators_are_refused(afas: Afas, kit: type[Kit]) -> None:
    by_mail = Correlation(
        person_field="contact.email", account_field="Email_werk", value="a,b@voorbeeld.nl"
    )
    with pytest.raises(AfasError, match="separators"):
        afas.plugin().idsync_correlate(kit.ctx(correlation=by_mail))
