"""The Phonebook plugin's settings: what a pipeline file writes under ``settings:``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class PhonebookSettings(BaseModel):
    """How to reach the Phonebook API."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The API root, e.g. `https://phonebook.example.org`.")
    token: SecretStr = Field(description="API token, sent as `Authorization: Bearer …`.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one answer.")
    retries: int = Field(
        default=5, ge=0, description="Attempts after the first for 429, 5xx and timeouts."
    )
    backoff: float = Field(
        default=0.5, ge=0, description="Base delay in seconds of the backoff between attempts."
    )
