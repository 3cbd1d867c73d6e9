"""Bad input on the way into a directory fails that person's action only, clearly, and the
run goes on; fixed at the source, the next run makes what was missing."""

from __future__ import annotations

import json

from directory_pipelines import DirectoryOrg

JOINED = "2026-01-20"


def _set_phone(org: DirectoryOrg, person: str, phone: str) -> None:
    data = org.afas.data
    employee = data.employee(person)
    assert employee is not None
    with data.lock:
        employee["Telefoonnr_werk"] = phone
        data.changed()


def test_a_value_the_schema_refuses_fails_that_person_only(ldap_org: DirectoryOrg) -> None:
    text = ldap_org.pipeline.read_text(encoding="utf-8")
    mapping = '        title: "{{ contract.title.name }}"\n'
    assert mapping in text
    phone = mapping + '        telephoneNumber: "{{ person.contact.phone }}"\n'
    ldap_org.pipeline.write_text(text.replace(mapping, phone), encoding="utf-8")
    _set_phone(ldap_org, "1008", "☎ 030 123 45 67")  # not a telephone number's characters

    result = ldap_org.run(JOINED, check=1)
    assert result["counts"]["failed"] == {"create": 1}
    assert result["counts"]["done"]["create"] == 7
    assert ldap_org.account("1008") is None
    assert ldap_org.account("1007") is not None  # the namesake next to it went on
    audit = json.loads(
        ldap_org.idsync("audit", str(ldap_org.pipeline), "--person", "1008", "--json").stdout
    )
    failed = next(r for r in audit["records"] if r["kind"] == "create" and r["status"] == "failed")
    message = " ".join(failed["messages"])
    assert "invalidAttributeSyntax (21)" in message
    assert "telephoneNumber" in message
    assert f"ou=Ict,ou=employees,{ldap_org.base}" in message  # the DN it tried

    _set_phone(ldap_org, "1008", "+31 30 123 45 67")
    again = ldap_org.run(JOINED)
    assert again["counts"]["done"]["create"] == 1
    entry = ldap_org.account("1008")
    assert entry is not None
    assert str(entry.telephoneNumber.value) == "+31 30 123 45 67"
