"""The AFAS simulator speaks ProfitRestServices: auth, paging, filters, ordering, errors, updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from idsync.sandbox.simulator import Faults
from idsync.sandbox.world import World
from idsync_afas import GET_CONNECTORS, AfasError

if TYPE_CHECKING:
    from conftest import Afas, Kit


def rows(
    afas: Afas, connector: str = "T4E_HelloID_Users_v2", **params: Any
) -> list[dict[str, Any]]:
    response = afas.get(connector, **params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["rows"]
    return result


def numbers(found: list[dict[str, Any]]) -> list[str]:
    return [r["Medewerker"] for r in found]


def test_token_is_checked(afas: Afas, kit: type[Kit]) -> None:
    for token in (None, "<token><version>1</version><data>WRONG</data></token>"):
        with afas.http(token) as client:
            response = client.get("/connectors/T4E_HelloID_Users_v2")
        assert response.status_code == 401
        assert set(response.json()) == {"externalMessage", "errorNumber", "profitLogReference"}
    with afas.http(None) as client:
        response = client.get(
            "/connectors/T4E_HelloID_Users_v2", headers={"Authorization": "Basic abc"}
        )
        assert response.status_code == 401
    plugin = afas.plugin(token="<token><version>1</version><data>NOPE</data></token>")
    check = plugin.idsync_check_connection(kit.ctx())
    assert not check.success
    assert check.messages == [
        "GET /connectors/T4E_HelloID_Users_v2: AFAS refused the token (HTTP 401); check the App-connector token"
    ]
    assert "NOPE" not in repr(plugin.settings)
    assert afas.plugin().idsync_check_connection(kit.ctx()).success


def test_envelope_default_take_and_fields(afas: Afas) -> None:
    body = afas.get("T4E_HelloID_Users_v2").json()
    assert set(body) == {"skip", "take", "rows"}
    assert (body["skip"], body["take"]) == (0, 100)
    for name, fields in GET_CONNECTORS.items():
        found = rows(afas, name, take=1)
        assert found, name
        assert list(found[0]) == list(fields), name


def test_skip_take_and_ordering(afas: Afas) -> None:
    everyone = numbers(rows(afas, orderbyfieldids="Medewerker"))
    assert everyone == sorted(everyone)
    assert numbers(rows(afas, orderbyfieldids="-Medewerker")) == everyone[::-1]
    page = rows(afas, orderbyfieldids="Medewerker", skip=2, take=3)
    assert numbers(page) == everyone[2:5]
    assert rows(afas, orderbyfieldids="Medewerker", skip=500, take=3) == []
    # several fields, mixed directions: department ascending, then FTE descending
    found = rows(
        afas,
        "T4E_HelloID_Employments_v2",
        orderbyfieldids="Organisatorische_eenheid_code,-FTE,ExternalID",
    )
    keys = [(r["Organisatorische_eenheid_code"], -r["FTE"], r["ExternalID"]) for r in found]
    assert keys == sorted(keys)


def test_filters_and_or_and_operators(afas: Afas) -> None:
    hr = "T4E_HelloID_Employments_v2"
    only = rows(
        afas,
        hr,
        filterfieldids="Organisatorische_eenheid_code",
        filtervalues="DEV",
        operatortypes="1",
    )
    assert {r["Medewerker"] for r in only} == {"1003", "1005", "1006", "1010"}
    both = rows(
        afas,
        hr,
        filterfieldids="Organisatorische_eenheid_code,Medewerker",
        filtervalues="DEV,1006",
        operatortypes="1,1",
    )
    assert numbers(both) == ["1006"]
    either = rows(
        afas,
        hr,
        filterfieldids="Medewerker;Medewerker",
        filtervalues="1001;1004",
        operatortypes="1;1",
        orderbyfieldids="Medewerker",
    )
    assert numbers(either) == ["1001", "1004"]
    users = "T4E_HelloID_Users_v2"
    assert numbers(
        rows(afas, users, filterfieldids="DisplayName", filtervalues="van der", operatortypes="6")
    ) == ["1002"]
    assert numbers(
        rows(afas, users, filterfieldids="Voornaam", filtervalues="émi", operatortypes="10")
    ) == ["1003"]
    assert numbers(
        rows(
            afas,
            users,
            filterfieldids="Geboortenaam_partner",
            filtervalues="",
            operatortypes="9",
            orderbyfieldids="Medewerker",
        )
    ) == ["1002", "1003", "1004"]
    no_mail = rows(afas, users, filterfieldids="Email_werk", filtervalues="", operatortypes="8")
    assert "1005" in numbers(no_mail)
    not_hr = rows(
        afas,
        hr,
        filterfieldids="Organisatorische_eenheid_code",
        filtervalues="HR",
        operatortypes="7",
    )
    assert "HR" not in {r["Organisatorische_eenheid_code"] for r in not_hr}
    # dates compare as dates; the value may be a plain date
    later = rows(
        afas, hr, filterfieldids="Begindatum_contract", filtervalues="2026-03-03", operatortypes="2"
    )
    assert numbers(later) == ["1006"]
    part_time = rows(afas, hr, filterfieldids="FTE", filtervalues="0.5", operatortypes="5")
    assert {r["ExternalID"] for r in part_time} == {"E2", "2004-1"}  # 2004-1: a bad row's twin


def test_afas_error_answers(afas: Afas) -> None:
    cases = [
        ({"orderbyfieldids": "Bestaatniet"}, "Connector-veld 'Bestaatniet' niet gevonden."),
        (
            {"filterfieldids": "Nee", "filtervalues": "1", "operatortypes": "1"},
            "Connector-veld 'Nee' niet gevonden.",
        ),
        ({"take": "-1"}, "Er is een onverwachte fout opgetreden."),
        ({"skip": "abc"}, "Er is een onverwachte fout opgetreden."),
        (
            {"filterfieldids": "Medewerker,Gebruiker", "filtervalues": "1", "operatortypes": "1"},
            "Er is een onverwachte fout opgetreden.",
        ),
    ]
    for params, message in cases:
        response = afas.get("T4E_HelloID_Users_v2", **params)
        assert response.status_code == 500, params
        assert response.json()["externalMessage"] == message
    unknown = afas.get("Onbekend_v1")
    assert unknown.status_code == 500
    assert unknown.json()["externalMessage"].startswith("GetConnector niet ondersteund")
    with afas.http() as client:
        assert client.get("/elders").status_code == 404
        response = client.put("/connectors/KnSubject", json={})
        assert response.status_code == 500
        assert "UpdateConnector wordt niet ondersteund" in response.json()["externalMessage"]
        assert client.put("/connectors/KnUser", content=b"{niet json").status_code == 400
        assert client.put("/connectors/KnUser", json={"KnUser": {}}).status_code == 400


def test_functional_errors_are_not_retried(afas: Afas, kit: type[Kit]) -> None:
    afas.sim.fail_next("De ingevulde waarde bij 'Medewerker' bestaat niet.", number=-2147220469)
    with pytest.raises(AfasError) as caught:
        list(afas.plugin().idsync_departments(kit.ctx()))
    error = caught.value
    assert error.external_message == "De ingevulde waarde bij 'Medewerker' bestaat niet."
    assert error.log_reference is not None
    assert f"[log reference {error.log_reference}]" in str(error)
    assert "(error -2147220469)" in str(error)
    assert len(afas.log) == 1


def test_maintenance_is_waited_out_or_reported(afas: Afas, kit: type[Kit]) -> None:
    afas.sim.maintenance(retry_after=0, requests=2)
    departments = list(afas.plugin().idsync_departments(kit.ctx()))
    assert len(departments) == 4
    assert [r.status for r in afas.log.all()] == [503, 503, 200]

    afas.sim.maintenance(retry_after=7200)
    response = afas.get("T4E_HelloID_OrganizationalUnits_v2")
    assert response.status_code == 503
    assert response.json()["retry_after"] == 7200
    afas.log.clear()
    with pytest.raises(AfasError) as caught:
        list(afas.plugin().idsync_departments(kit.ctx()))
    assert len(afas.log) == 1  # a wait longer than max_backoff is not waited for: no retry
    assert "maintenance" in str(caught.value)
    assert caught.value.retriable
    afas.sim.end_maintenance()
    assert afas.get("T4E_HelloID_OrganizationalUnits_v2").status_code == 200


def test_transient_faults_are_retried(
    start_afas: Callable[..., Afas], world: World, kit: type[Kit]
) -> None:
    afas = start_afas(world, faults=Faults(error_rate=0.3, seed=4))
    persons, blocked = afas.read(page_size=3, retries=8, max_backoff=0.05)
    assert len(persons) == 8
    assert len(blocked) == 9
    assert any(r.fault == "error" for r in afas.log.all())


def test_integration_id(start_afas: Callable[..., Afas], world: World, kit: type[Kit]) -> None:
    afas = start_afas(world, integration_id="45963_140664")
    assert afas.get("T4E_HelloID_Users_v2").status_code == 403
    assert not afas.plugin().idsync_check_connection(kit.ctx()).success
    assert afas.plugin(integration_id="45963_140664").idsync_check_connection(kit.ctx()).success


def test_knuser_create_block_rename_and_remove(afas: Afas) -> None:
    def put(fields: dict[str, Any], user_id: str, method: str = "PUT") -> Any:
        with afas.http() as client:
            return client.request(
                method,
                "/connectors/KnUser",
                json={"KnUser": {"Element": {"@UsId": user_id, "Fields": fields}}},
            )

    data = afas.sim.data
    with data.lock:
        data.users.remove(data.user("12345.1010"))  # type: ignore[arg-type]
        data.changed()
    assert (
        rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0][
            "Gebruiker"
        ]
        is None
    )
    created = put(
        {
            "MtCd": "1",
            "BcCo": "P1010",
            "Nm": "Ruud van 't Hoek",
            "Upn": "ruud@voorbeeld.nl",
            "InSi": "true",
            "Site": "false",
            "Acon": False,
            "Pw": "Niet-gebruikt-1",
        },
        "12345.ruud",
    )
    assert created.status_code == 200
    row = rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0]
    assert (row["Gebruiker"], row["UPN"], row["InSite"], row["OutSite"]) == (
        "12345.ruud",
        "ruud@voorbeeld.nl",
        True,
        False,
    )
    assert put({"MtCd": 1, "BcCo": "P1010"}, "12345.ruud", "POST").status_code == 500  # exists
    assert put({"MtCd": 2}, "12345.ruud").status_code == 200
    assert (
        rows(afas, filterfieldids="Gebruiker", filtervalues="12345.ruud", operatortypes="1")[0][
            "Geblokkeerd"
        ]
        is True
    )
    assert "12345.ruud" not in {
        m["UserId"] for m in rows(afas, "T4E_HelloID_UserGroups_v2", take=500)
    }
    assert put({"MtCd": 6}, "12345.ruud").status_code == 200
    assert put({"MtCd": 4, "UsIdNew": "12345.rhoek"}, "12345.ruud").status_code == 200
    assert (
        rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0][
            "Gebruiker"
        ]
        == "12345.rhoek"
    )
    assert put({"MtCd": 0}, "12345.rhoek").status_code == 200
    assert (
        rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0][
            "Gebruiker"
        ]
        is None
    )
    missing = put({"MtCd": 1, "Upn": "x@y.nl"}, "12345.nobody")
    assert missing.status_code == 500
    assert missing.json()["errorNumber"] == -2147220469


def test_knemployee_updates_and_refusals(afas: Afas) -> None:
    def employee(number: str, fields: dict[str, Any], method: str = "PUT") -> Any:
        body = {
            "AfasEmployee": {
                "Element": {
                    "@EmId": number,
                    "Objects": [{"KnPerson": {"Element": {"Fields": fields}}}],
                }
            }
        }
        with afas.http() as client:
            return client.request(method, "/connectors/KnEmployee", json=body)

    ok = employee(
        "1006",
        {
            "MatchPer": 0,
            "BcCo": "P1006",
            "TeNr": "+31 20 555 0000",
            "MbNr": "+31 6 11112222",
            "EmailPortal": "noah@portal.nl",
        },
    )
    assert ok.status_code == 200
    row = rows(afas, filterfieldids="Medewerker", filtervalues="1006", operatortypes="1")[0]
    assert (row["Telefoonnr_werk"], row["Mobielnr_werk"], row["Email_portal"]) == (
        "+31 20 555 0000",
        "+31 6 11112222",
        "noah@portal.nl",
    )
    assert (
        employee("9999", {"MatchPer": 0, "BcCo": "P9999", "TeNr": "1"}).json()["externalMessage"]
        == "De ingevulde waarde bij 'Medewerker' bestaat niet."
    )
    assert (
        "hoort niet bij"
        in employee("1006", {"MatchPer": 0, "BcCo": "P1001", "TeNr": "2"}).json()["externalMessage"]
    )
    assert (
        "onbekend"
        in employee("1006", {"MatchPer": 0, "BcCo": "P1006", "FiNm": "X"}).json()["externalMessage"]
    )
    assert (
        employee("1006", {"MatchPer": 0, "BcCo": "P1006", "TeNr": "3"}, "POST").status_code == 500
    )
    # a refused write changes nothing, not even its other, changed fields
    refused = employee(
        "1006",
        {"MatchPer": 0, "BcCo": "P1006", "MbNr": "+31 6 99990000", "TeNr": "+31 20 555 0000"},
    )
    assert refused.status_code == 500
    row = rows(afas, filterfieldids="Medewerker", filtervalues="1006", operatortypes="1")[0]
    assert row["Mobielnr_werk"] == "+31 6 11112222"


def _send(afas: Afas, connector: str, body: Any, method: str = "PUT") -> Any:
    with afas.http() as client:
        return client.request(method, f"/connectors/{connector}", json=body)


def _knuser(user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"KnUser": {"Element": {"@UsId": user_id, "Fields": fields}}}


def _knemployee(fields: dict[str, Any], **element: Any) -> dict[str, Any]:
    objects = [{"KnPerson": {"Element": {"Fields": {"MatchPer": 0, "BcCo": "P1006", **fields}}}}]
    return {"AfasEmployee": {"Element": {"@EmId": "1006", "Objects": objects, **element}}}


@pytest.mark.parametrize(
    ("connector", "body", "status", "message"),
    [
        (
            "KnUser",
            {**_knuser("12345.1002", {"Upn": "x@y.nl"}), "Extra": {}},
            400,
            "Het element 'Extra' is onbekend naast 'KnUser'.",
        ),
        (
            "KnUser",
            {"KnUser": {"Element": {"@UsId": "12345.1002"}, "Fields": {}}},
            400,
            "Het element 'Fields' is onbekend in 'KnUser'.",
        ),
        (
            "KnUser",
            {"KnUser": {"Element": {"@UsId": "12345.1002", "@BcCo": "P1"}}},
            400,
            "Het element '@BcCo' is onbekend in 'KnUser'.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"Upn": {"value": "x@y.nl"}}),
            500,
            "De waarde van veld 'Upn' in 'KnUser' is geen enkelvoudige waarde.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"Upn": True}),
            500,
            "De waarde 'True' is ongeldig voor tekstveld 'Upn'.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"InSi": "misschien"}),
            500,
            "De waarde 'misschien' is ongeldig voor een ja/nee-veld.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"MtCd": True, "Upn": "x@y.nl"}),
            500,
            "De waarde 'True' is ongeldig voor 'MtCd'.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"Acon": "nee"}),
            500,
            "De waarde 'nee' is ongeldig voor een ja/nee-veld.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"Upn": "x@y.nl", "Kleur": "rood"}),
            500,
            "Het veld 'Kleur' is onbekend in 'KnUser'.",
        ),
        (
            "KnUser",
            _knuser("12345.1002", {"MtCd": 6}),
            500,
            "Gebruiker '12345.1002' is al niet geblokkeerd.",
        ),
        (
            "KnEmployee",
            _knemployee({"TeNr": "1"}, Extra=1),
            400,
            "Het element 'Extra' is onbekend in 'AfasEmployee'.",
        ),
        (
            "KnEmployee",
            {
                "AfasEmployee": {
                    "Element": {
                        "@EmId": "1006",
                        "Objects": [{"KnContact": {"Element": {"Fields": {}}}}],
                    }
                }
            },
            500,
            "Het object 'KnContact' wordt niet ondersteund in 'AfasEmployee'.",
        ),
        (
            "KnEmployee",
            _knemployee({"TeNr": ["1"]}),
            500,
            "De waarde van veld 'TeNr' in 'KnPerson' is geen enkelvoudige waarde.",
        ),
        (
            "KnEmployee",
            _knemployee({"MatchPer": "x"}),
            500,
            "De waarde 'x' is ongeldig voor 'MatchPer'.",
        ),
    ],
)
def test_update_connectors_refuse_unknown_elements_and_wrong_types(
    afas: Afas, connector: str, body: Any, status: int, message: str
) -> None:
    before = rows(afas, take=500)
    answer = _send(afas, connector, body)
    assert answer.status_code == status
    assert answer.json()["externalMessage"] == message
    assert set(answer.json()) == {"externalMessage", "errorNumber", "profitLogReference"}
    after = rows(afas, take=500)
    assert after == before


def test_a_new_user_needs_a_password_and_its_own_id(afas: Afas) -> None:
    data = afas.sim.data
    with data.lock:
        data.users.remove(data.user("12345.1010"))  # type: ignore[arg-type]
        data.changed()
    fields = {"MtCd": 1, "BcCo": "P1010", "Nm": "Ruud van 't Hoek", "Upn": "ruud@voorbeeld.nl"}
    no_password = _send(afas, "KnUser", _knuser("12345.1010", fields), "POST")
    assert no_password.status_code == 500
    assert "Wachtwoord" in no_password.json()["externalMessage"]
    other_id = _send(
        afas, "KnUser", _knuser("12345.1010", {**fields, "Pw": "x", "UsIdNew": "12345.x"}), "POST"
    )
    assert other_id.status_code == 500
    assert (
        rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0][
            "Gebruiker"
        ]
        is None
    )
    # Tools4ever's own create body: UsIdNew repeats @UsId, every extra right off.
    created = _send(
        afas,
        "KnUser",
        _knuser(
            "12345.1010",
            {**fields, "Pw": "x", "UsIdNew": "12345.1010", "Awin": False, "Site": True},
        ),
        "POST",
    )
    assert created.status_code == 201
    row = rows(afas, filterfieldids="Medewerker", filtervalues="1010", operatortypes="1")[0]
    assert (row["Gebruiker"], row["UPN"], row["OutSite"], row["Geblokkeerd"]) == (
        "12345.1010",
        "ruud@voorbeeld.nl",
        True,
        False,
    )
    assert _send(afas, "KnUser", _knuser("12345.1010", {"MtCd": 2})).status_code == 200
    twice = _send(afas, "KnUser", _knuser("12345.1010", {"MtCd": 2}))
    assert twice.status_code == 500
    assert twice.json()["externalMessage"] == "Gebruiker '12345.1010' is al geblokkeerd."


def test_groups_hide_everyone(afas: Afas) -> None:
    groups = {g["GroupId"] for g in rows(afas, "T4E_HelloID_Groups_v2")}
    assert groups == {"Medewerkers", "Leidinggevenden"}
    members = rows(
        afas,
        "T4E_HelloID_UserGroups_v2",
        take=500,
        filterfieldids="GroupId",
        filtervalues="Leidinggevenden",
        operatortypes="1",
    )
    assert {m["UserId"] for m in members} == {
        "12345.1001",
        "12345.1002",
        "12345.1003",
        "12345.1004",
    }


def test_writes_show_in_the_next_read(afas: Afas) -> None:
    before = rows(afas, filterfieldids="UPN", filtervalues="", operatortypes="8", take=500)
    with afas.http() as client:
        body = {
            "KnUser": {
                "Element": {
                    "@UsId": "12345.1001",
                    "Fields": {"MtCd": 1, "Upn": "anna@voorbeeld.nl"},
                }
            }
        }
        assert client.put("/connectors/KnUser", json=body).status_code == 200
    after = rows(afas, filterfieldids="UPN", filtervalues="", operatortypes="8", take=500)
    assert len(after) == len(before) - 1
    assert numbers(
        rows(afas, filterfieldids="UPN", filtervalues="ANNA@voorbeeld.nl", operatortypes="1")
    ) == ["1001"]
