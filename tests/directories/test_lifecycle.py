"""The lifecycle of the hand-made organisation, run by run, into Samba AD and into OpenLDAP.

The organisation (``support.organisation``) has an ICT admin (1002), a joiner (1004, starts
1 February), a mover (1005, Sales to HR on 1 February), a leaver (1003, last day 31 January),
a returner (1009: leaves 31 January, back 20 February), namesakes without e-mail (1007, 1008),
an external (1006) and a person whose account was made by hand (1001).
"""

from __future__ import annotations

import sqlite3

from directory_pipelines import INITIAL_PASSWORD, DirectoryOrg

JOINED = "2026-01-20"  # before the joiner's start, before the leaver's end
MOVED = "2026-02-02"  # joiner started, mover moved, leaver left
GONE = "2026-03-05"  # 30 days after the leaver was disabled; the returner is back


def _hand_made(org: DirectoryOrg) -> str:
    """An account for 1001 made by an administrator long ago, in the users' root."""
    if org.flavour == "ad":
        dn = f"CN=Jan de Vries,OU=Employees,{org.base}"
        attributes = {
            "sAMAccountName": f"jdv{org.tag}",
            "userPrincipalName": f"jdv{org.tag}@example.test",
            "employeeID": "1001",
            "sn": "Vries",
            "userAccountControl": "514",
        }
        classes = ["top", "person", "organizationalPerson", "user"]
    else:
        dn = f"uid=jdv{org.tag},ou=employees,{org.base}"
        attributes = {
            "uid": f"jdv{org.tag}",
            "cn": "Jan de Vries",
            "sn": "Vries",
            "employeeNumber": "1001",
        }
        classes = ["inetOrgPerson"]
    assert org.admin.add(dn, classes, attributes), org.admin.result
    return dn


def _lifecycle(org: DirectoryOrg) -> None:
    hand_made = _hand_made(org)
    login = "userPrincipalName" if org.flavour == "ad" else None

    # --- the first run: joiners created, the hand-made account linked ---------------------
    first = org.run(JOINED)
    assert first["counts"]["done"]["create"] == 7
    assert first["counts"]["done"]["correlate"] == 1
    assert org.account("1006") is None  # externals get nothing
    anna = org.account("1002")
    assert anna is not None
    assert org.enabled("1002")  # her contract runs: enabled by the lifecycle
    assert org.container("1002") in ("ou=ict",)
    assert org.groups("1002") == {"ICT Admins", "department_ICT"}
    fatima = org.account("1004")
    assert fatima is not None
    assert not org.enabled("1004")  # starts 1 February: created, not yet enabled
    assert org.groups("1004") == {"department_HR"}
    # The initial password lets the user sign in (AD: with the user principal name).
    user = str(anna[login].value) if login else str(anna.entry_dn)
    assert org.can_bind(user, INITIAL_PASSWORD)
    assert not org.can_bind(user, INITIAL_PASSWORD + "x")
    # The account made by hand is linked and brought in line, not duplicated.
    assert len(org.accounts("1001")) == 1
    jan = org.account("1001")
    assert str(jan.sn.value) == "de Vries"
    assert org.container("1001") == "ou=sales"
    assert str(jan.entry_dn).lower() != hand_made.lower()  # moved into its department's OU
    assert str(jan.manager.value).lower() == str(anna.entry_dn).lower()
    # Namesakes get the next free name.
    names = "sAMAccountName" if org.flavour == "ad" else "uid"
    taken = {str(org.account(p)[names].value).lower() for p in ("1007", "1008")}
    assert len(taken) == 2

    # --- a re-run writes nothing ----------------------------------------------------------
    with org.quiet():
        markers, writes = org.markers(), org.writes()
        again = org.run(JOINED)
        assert org.writes() == writes
    assert again["counts"] == {}
    assert org.markers() == markers

    # --- a month later: joiner enabled, mover moved and regrouped, leavers disabled --------
    org.run(MOVED)
    assert org.enabled("1004")
    assert org.container("1005") == "ou=hr"
    assert org.groups("1005") == {"department_HR"}
    assert str(org.account("1005")["title"].value) == "Medewerker"
    assert not org.enabled("1003")
    assert org.container("1003") == "ou=disabled"
    assert org.groups("1003") == set()
    assert not org.enabled("1009")  # between two contracts
    assert org.container("1009") == "ou=disabled"
    assert org.enabled("1002")

    # --- later still: the leaver deleted, the returner back where she belongs -------------
    org.run(GONE)
    assert org.account("1003") is None
    assert org.enabled("1009")
    assert org.container("1009") == "ou=sales"
    assert org.groups("1009") == {"department_SALES"}
    with org.quiet():
        markers, writes = org.markers(), org.writes()
        assert org.run(GONE)["counts"] == {}
        assert org.writes() == writes
    assert org.markers() == markers

    # --- the initial password was never written down ----------------------------------------
    for text in org.outputs:
        assert INITIAL_PASSWORD not in text
    assert INITIAL_PASSWORD.encode() not in org.db.read_bytes()
    with sqlite3.connect(org.db) as db:
        rows = db.execute("SELECT messages, changes FROM audit").fetchall()
    assert rows
    assert all(INITIAL_PASSWORD not in str(row) for row in rows)


def test_afas_to_active_directory(ad_org: DirectoryOrg) -> None:
    _lifecycle(ad_org)


def test_afas_to_openldap(ldap_org: DirectoryOrg) -> None:
    _lifecycle(ldap_org)
