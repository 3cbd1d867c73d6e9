"""The idsync contract kit run against the SCIM plugin and a real scim2-server."""

from __future__ import annotations

import httpx
from idsync import Correlation
from idsync.testing import Created, Sample, target_contract
from idsync_scim import ScimPlugin

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _sample(unique: str) -> Sample:
    user_name = f"contract.{unique}@example.org"
    return Sample(
        account={
            "userName": user_name,
            "externalId": f"kit-{unique}",
            "name.givenName": "Contract",
            "name.familyName": "Test",
            'emails[type eq "work"].value': user_name,
            f"{ENTERPRISE}:employeeNumber": f"kit-{unique}",
            f"{ENTERPRISE}:department": "ICT",
        },
        correlation=Correlation(
            person_field="external_id", account_field="externalId", value=f"kit-{unique}"
        ),
        changes={
            "name.familyName": "Changed",
            f"{ENTERPRISE}:department": "HR",
            "title": "Engineer",
            'phoneNumbers[type eq "work"].value': "+31 20 555 0100",
        },
    )


def _cleanup(api: httpx.Client, created: Created) -> None:
    """Remove the groups the resource checks made (the kit deletes the accounts itself)."""
    for resource in created.resources:
        if resource.reference:
            answer = api.delete(f"/Groups/{resource.reference}")
            assert answer.status_code in (204, 404), answer.text


TestScimContract = target_contract(
    plugin=ScimPlugin,
    settings=lambda make_settings: make_settings(),
    writes=lambda scim_server: scim_server.writes(),
    sample=_sample,
    permissions=lambda staff_group: ["group:Contract Staff"],
    cleanup=_cleanup,
)
