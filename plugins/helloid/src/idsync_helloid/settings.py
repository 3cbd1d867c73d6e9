"""The settings of a configured HelloID target, validated from the pipeline file."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["HelloIDSettings"]

API_PATH = "/api/v1"


class HelloIDSettings(BaseModel):
    """How idsync reaches one HelloID tenant and how it writes users there."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        description=(
            "The tenant's API root, `https://{tenant}.helloid.com/api/v1`. A URL without a path "
            "gets `/api/v1` appended."
        ),
        examples=["https://enyoi.helloid.com/api/v1"],
    )
    api_key: SecretStr = Field(description="API key (HelloID > Settings > API).")
    api_secret: SecretStr = Field(description="API secret belonging to the key.")
    update_user_name: bool = Field(
        default=False,
        description=(
            "Whether an update may rename a user (`userName` through `IdentifierObject`). "
            "When false, a changed user name fails the update with a message; the other "
            "changes are still written."
        ),
    )
    soft_deleted_users: Literal["restore", "create"] = Field(
        default="restore",
        description=(
            "A create whose `userName` a soft-deleted user holds: `restore` brings that user "
            "back (`PUT` with `isSoftDeleted: false`, disabled, with the mapped data), as "
            "HelloID's own connector does; `create` makes a new user beside it."
        ),
    )
    set_manager: bool = Field(
        default=True,
        description="Set `managedByUserGUID` to the manager's HelloID account, when known.",
    )
    source: str = Field(
        default="Local",
        min_length=1,
        description=(
            "The `source` of created users: `Local` for HelloID-local users, or the directory "
            "sync's source name (e.g. `enyoi.local`). A mapped `source` wins."
        ),
    )
    set_password: bool = Field(
        default=True,
        description=(
            "Give created users a random initial password (off for users who only sign in "
            "through a synced directory or an identity provider)."
        ),
    )
    password_length: int = Field(
        default=24, ge=12, le=128, description="Length of the generated initial password."
    )
    must_change_password: bool = Field(
        default=True,
        description="Whether a created user must change the initial password at first sign-in.",
    )
    page_size: int = Field(
        default=1000, ge=1, le=10000, description="`take` of every paged list request."
    )
    concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Connections kept open to HelloID, and parallel reads during an import.",
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
            "that may have reached HelloID is not repeated)."
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
    def _api_root(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL; expected https://{{tenant}}.helloid.com/api/v1"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} must not carry a query or fragment")
        if not parts.path:
            value += API_PATH
        return value
