"""The settings of a configured SCIM target, validated from the pipeline file."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["ScimSettings"]


class ScimSettings(BaseModel):
    """How idsync reaches one SCIM 2.0 service provider and how it writes there."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        description=(
            "The SCIM root the endpoints hang from: `/Users`, `/Groups` and the discovery "
            "endpoints are relative to it (e.g. `https://idp.example.org/scim/v2`)."
        ),
        examples=["https://idp.example.org/scim/v2"],
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token (`Authorization: Bearer …`). Give this or username and password.",
    )
    username: str | None = Field(
        default=None, description="User name for HTTP Basic authentication (with `password`)."
    )
    password: SecretStr | None = Field(
        default=None, description="Password for HTTP Basic authentication (with `username`)."
    )
    user_resource: str = Field(
        default="User",
        min_length=1,
        description="The resource type (from `/ResourceTypes`) accounts are: its name.",
    )
    group_resource: str = Field(
        default="Group",
        min_length=1,
        description="The resource type `group:` permissions and resources are: its name.",
    )
    discovery: bool = Field(
        default=True,
        description=(
            "Read `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes` to learn the "
            "attributes and features of the server. Off: the schemas of RFC 7643 (User with "
            "the enterprise extension, Group) and PATCH, ETags and filtering are assumed."
        ),
    )
    set_manager: bool = Field(
        default=True,
        description=(
            "Set the enterprise extension's `manager` to the manager's account, when the "
            "user resource has the extension and the manager has an account."
        ),
    )
    remove_memberships_on_delete: bool = Field(
        default=True,
        description=(
            "Remove a user from every group before deleting it. SCIM servers need not keep "
            "referential integrity, and a deleted user's id would stay behind as a member."
        ),
    )
    conflict_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description=(
            "Attempts after the first when a conditional write answers 412 (the resource "
            "changed since it was read): each reads the resource again and recomputes."
        ),
    )
    page_size: int = Field(
        default=200,
        ge=1,
        le=10000,
        description=(
            "`count` of every paged list request; capped by the server's `filter.maxResults`."
        ),
    )
    concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Connections kept open to the server, and parallel page reads in an import.",
    )
    rate_limit: float | None = Field(
        default=None,
        gt=0,
        description="Requests per second at most (none: only the server's 429s slow us down).",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one answer.")
    retries: int = Field(
        default=5,
        ge=0,
        le=100,
        description=(
            "Attempts after the first for 429, 5xx, timeouts and dropped connections (a POST "
            "that may have reached the server is not repeated)."
        ),
    )
    backoff: float = Field(
        default=0.5, ge=0, description="Base delay in seconds of the exponential backoff."
    )
    max_backoff: float = Field(
        default=30.0,
        ge=0,
        description="Longest single wait in seconds between attempts (`Retry-After` included).",
    )

    @field_validator("base_url")
    @classmethod
    def _root(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL; expected the SCIM root, such as "
                "https://idp.example.org/scim/v2"
            )
        if parts.username or parts.password:
            raise ValueError("the URL must not carry credentials; use token or username/password")
        if parts.query or parts.fragment:
            raise ValueError("the URL must not carry a query or fragment")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> ScimSettings:
        basic = self.username is not None or self.password is not None
        if self.token is not None and basic:
            raise ValueError(
                "give either token (bearer) or username and password (basic), not both"
            )
        if basic and (not self.username or self.password is None):
            raise ValueError("basic authentication needs both username and password")
        if self.token is None and not basic:
            raise ValueError("give token (bearer) or username and password (basic)")
        return self
