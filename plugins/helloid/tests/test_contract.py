"""The idsync contract kit run against the HelloID plugin and its simulator."""

from __future__ import annotations

from idsync import Correlation
from idsync.testing import Sample, target_contract
from idsync_helloid import HelloIDPlugin


def _sample(unique: str) -> Sample:
    user_name = f"contract.{unique}@enyoi.org"
    return Sample(
        account={
            "userName": user_name,
            "firstName": "Contract",
            "lastName": "Test",
            "contactEmail": user_name,
            "userAttributes.department": "ICT",
        },
        correlation=Correlation(
            person_field="account.userName", account_field="userName", value=user_name
        ),
        changes={"lastName": "Changed", "userAttributes.department": "HR"},
    )


TestHelloIDContract = target_contract(
    plugin=HelloIDPlugin,
    settings=lambda make_settings: make_settings(),
    writes=lambda sim: sim.log.writes(),
    sample=_sample,
    permissions=["group:ICT Admins", "product:Laptop"],
)
