"""The idsync contract kit, run against the Phonebook simulator."""

from __future__ import annotations

from idsync import Correlation
from idsync.testing import Sample, simulator_writes, target_contract
from idsync_phonebook import PhonebookPlugin

# --8<-- [start:contract]
TestPhonebookContract = target_contract(
    plugin=PhonebookPlugin,
    settings=lambda url, token: {"base_url": url, "token": token, "retries": 1, "backoff": 0.01},
    writes=lambda app: simulator_writes(app),
    sample=lambda unique: Sample(
        account={
            "employeeId": f"kit-{unique}",
            "displayName": "Contract Kit",
            "email": f"kit.{unique}@example.org",
        },
        correlation=Correlation(
            person_field="external_id", account_field="employeeId", value=f"kit-{unique}"
        ),
        changes={"phone": "+31 20 555 0100", "department": "Kit"},
    ),
)
# --8<-- [end:contract]
