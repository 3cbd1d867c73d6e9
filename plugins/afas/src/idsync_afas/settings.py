"""The settings of one configured AFAS Profit environment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from idsync_afas import connectors

__all__ = ["WRITABLE_FIELDS", "AfasSettings"]

WRITABLE_FIELDS = (
    "Email_werk",
    "Email_portal",
    "Telefoonnr_werk",
    "Mobielnr_werk",
    "UPN",
    "Email_werk_gebruiker",
    "InSite",
    "OutSite",
)
"""The account keys the write-back understands: the ``T4E_HelloID_Users_v2`` fields it can
change (the first four through ``KnEmployee``, the others through ``KnUser``)."""


class AfasSettings(BaseModel):
    """Settings of the AFAS Profit plugin (source of persons and write-back target)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    """Inputs are never echoed in errors: the token must not appear in a message."""

    base_url: str = Field(
        description="ProfitRestServices root, `https://{member}.rest.afas.online/profitrestservices`.",
    )
    token: SecretStr = Field(
        description="The App-connector token XML (`<token><version>1</version><data>…</data></token>`); "
        "sent as `Authorization: AfasToken base64(<token XML>)`.",
    )
    integration_id: str | None = Field(
        default=None,
        description="Partner integration id sent as the `IntegrationId` header on every call (omitted when empty).",
    )
    users_connector: str = Field(
        default=connectors.USERS, description="GetConnector with one row per employee."
    )
    employments_connector: str = Field(
        default=connectors.EMPLOYMENTS,
        description="GetConnector with the employments (dienstverbanden).",
    )
    positions_connector: str = Field(
        default=connectors.POSITIONS, description="GetConnector with the positions (formatie)."
    )
    organizational_units_connector: str = Field(
        default=connectors.ORGANIZATIONAL_UNITS,
        description="GetConnector with the organisational units (departments).",
    )
    employee_update_connector: str = Field(
        default="KnEmployee", description="UpdateConnector for e-mail and phone numbers."
    )
    user_update_connector: str = Field(
        default="KnUser", description="UpdateConnector for UPN, user e-mail and InSite/OutSite."
    )
    manage_users: bool = Field(
        default=False,
        description="Manage the employees' AFAS users: create one (`KnUser` mutation 1) for an "
        "employee who has none when the write-back has a user field to write, block it on "
        "disable (mutation 2) and unblock it on enable (mutation 6). Off: an employee without "
        "an AFAS user is reported blocked, and users are never blocked or unblocked.",
    )
    relation_number: str | None = Field(
        default=None,
        description="The AFAS member (relation) number new user ids start with: "
        "`{relation_number}.{Medewerker}`, at most 20 characters. Required with `manage_users`.",
    )
    positions_mode: Literal["positions", "employments_only"] = Field(
        default="positions",
        description="`positions`: one contract per position (`position~employment`), employments "
        "without positions as their own contract; `employments_only`: one contract per employment.",
    )
    exclude_persons_without_contracts: bool = Field(
        default=True,
        description="Leave out employees that have no contract in the connectors' window.",
    )
    clear_on_delete: list[str] = Field(
        default_factory=lambda: ["Email_werk", "UPN", "Email_werk_gebruiker"],
        description="Fields emptied on delete (employees are never deleted; their unique fields are cleared).",
    )
    page_size: int = Field(
        default=1000, ge=1, le=100_000, description="Rows per GetConnector page (`take`)."
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for one answer.")
    retries: int = Field(default=5, ge=0, le=20, description="Retries of a transient failure.")
    backoff: float = Field(default=0.5, ge=0, description="Base delay in seconds between retries.")
    max_backoff: float = Field(
        default=30.0, ge=0, description="Longest single wait between retries."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "must start with https:// (e.g. https://12345.rest.afas.online/profitrestservices)"
            )
        return value

    @field_validator("token")
    @classmethod
    def _token_xml(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if not (text.startswith("<token>") and text.endswith("</token>")):
            raise ValueError("must be the whole token XML, <token>…</token>")
        if not text.isascii():
            raise ValueError("must contain ASCII characters only")
        return SecretStr(text)

    @field_validator("relation_number")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.isdigit():
            raise ValueError("must be the AFAS member number, digits only (e.g. 12345)")
        return value

    @model_validator(mode="after")
    def _users_need_a_relation_number(self) -> AfasSettings:
        if self.manage_users and self.relation_number is None:
            raise ValueError(
                "manage_users needs relation_number, the member number new AFAS user ids "
                "start with ({relation_number}.{Medewerker})"
            )
        return self

    @field_validator("clear_on_delete")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in WRITABLE_FIELDS]
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: {list(WRITABLE_FIELDS)}")
        return value
