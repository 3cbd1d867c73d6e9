"""The settings of one configured TOPdesk system (source or target)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["MissingLookup", "Paging", "TopdeskSettings"]

MissingLookup = Literal["error", "clear"]
"""What to do when a department or budget holder named in the account data does not exist."""

Paging = Literal["v2", "classic"]
"""How persons are listed: the v2 collection (``pageStart``/``pageSize``, ``{item, next}``) or
the classic array (``start``/``page_size``, 206 while more pages exist)."""


class TopdeskSettings(BaseModel):
    """Settings of the TOPdesk plugin."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        description="The TOPdesk environment, `https://{customer}.topdesk.net` (without `/tas/api`)."
    )
    username: str = Field(min_length=1, description="The operator's login name for the REST API.")
    password: SecretStr = Field(
        description="The operator's application password (BASIC authentication)."
    )
    archiving_reason: str = Field(
        default="Persoon uit organisatie",
        min_length=1,
        description="Archiving reason (by name) used when a person is archived.",
    )
    missing_department: MissingLookup = Field(
        default="error",
        description="A department that does not exist in TOPdesk: fail the action, or clear the field.",
    )
    missing_budget_holder: MissingLookup = Field(
        default="error",
        description="A budget holder that does not exist in TOPdesk: fail the action, or clear the field.",
    )
    default_branch: str | None = Field(
        default=None,
        description="Branch (by name) of a created person whose account data names none; "
        "without it such a create fails, as TOPdesk requires a branch.",
    )
    create_archived: bool = Field(
        default=True,
        description="Archive a person right after creating it, so it stays inactive until enabled.",
    )
    clear_on_delete: list[str] = Field(
        default_factory=lambda: ["email", "networkLoginName", "tasLoginName"],
        description="Person fields emptied on delete (TOPdesk persons are archived, never deleted).",
    )
    branch_country: str = Field(
        default="Nederland",
        description="Country (by name) of the postal address of branches the plugin creates.",
    )
    branch_type: Literal["independentBranch", "headBranch", "hasAHeadBranch"] = Field(
        default="independentBranch", description="Branch type of branches the plugin creates."
    )
    external_id: Literal["employeeNumber", "id"] = Field(
        default="employeeNumber",
        description="Source: the person field that becomes the person's external id.",
    )
    include_archived: bool = Field(
        default=True, description="Source: also read archived persons (as inactive persons)."
    )
    contract_dates: bool = Field(
        default=False,
        description="Source: read each person's hire and termination dates (one extra request per person).",
    )
    paging: Paging = Field(
        default="v2", description="Source and accounts import: `v2` collection or `classic` paging."
    )
    page_size: int = Field(
        default=1000,
        ge=1,
        le=5000,
        description="Persons per page (the classic form sends at most 100).",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one answer.")
    retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a transient failure (429, 5xx, timeouts)."
    )
    backoff: float = Field(
        default=0.5, ge=0, description="Base delay in seconds of the exponential backoff."
    )

    @field_validator("base_url")
    @classmethod
    def _plain_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (for example https://customer.topdesk.net)")
        return value.removesuffix("/tas/api")
