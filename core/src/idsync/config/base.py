"""What every part of the pipeline file shares: a strict model, and the error that lists
every problem."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """A pipeline file that cannot be used; ``errors`` lists ``(key path, problem)`` pairs."""

    def __init__(self, file: str, errors: list[tuple[str, str]]) -> None:
        self.file = file
        self.errors = errors
        super().__init__("\n".join(f"{file}: {path or '(top)'}: {msg}" for path, msg in errors))


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
