"""The pipeline file's thresholds: how much change a run may make before it holds, and the
defaults that hold unless turned off."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from idsync.config.base import _Config

TRANSITIONS = ("joiner", "mover", "leaver", "returner", "vanished", "retired")
"""What happens to a person in a target, as a plan groups it (see :mod:`idsync.lifecycle`)."""


_OFF = ("off", "false", "no", "none")


def _is_off(value: Any) -> bool:
    """``off`` in a pipeline file (YAML reads a bare ``off`` as ``false``)."""
    return value is False or (isinstance(value, str) and value.strip().lower() in _OFF)


class Threshold(_Config):
    """A maximum per run: a count, a percentage, or both (exceeding either holds).

    ``floor`` keeps a percentage from allowing fewer than that many (a small organisation,
    or a small base, is not held for a handful of ordinary changes).
    """

    count: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)
    floor: int | None = Field(default=None, ge=0)
    """With ``percent``: the percentage never allows fewer than this many."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a threshold is a count (10), a percentage ('5%') or off")
        if isinstance(value, int):
            return {"count": value}
        if isinstance(value, str):
            text = value.strip()
            if text.endswith("%"):
                try:
                    return {"percent": float(text[:-1])}
                except ValueError:
                    raise ValueError(f"{value!r} is not a percentage such as '5%'") from None
            if text.isdigit():
                return {"count": int(text)}
            raise ValueError(f"{value!r} is neither a count (10) nor a percentage ('5%')")
        return value

    @model_validator(mode="after")
    def _meaningful(self) -> Threshold:
        if self.count is None and self.percent is None:
            raise ValueError("give a count, a percentage or both (or write off)")
        if self.floor is not None and self.percent is None:
            raise ValueError("a floor applies to a percentage: give percent too")
        if self.floor is not None and self.count is not None and self.floor > self.count:
            raise ValueError(
                f"floor {self.floor} is above count {self.count}: the floor would never apply"
            )
        return self

    def limit(self, base: int) -> int:
        """The largest allowed number for a population of ``base``."""
        limits = []
        if self.count is not None:
            limits.append(self.count)
        if self.percent is not None:
            allowed = int(base * self.percent / 100)
            limits.append(max(allowed, self.floor or 0))
        return min(limits)

    def __str__(self) -> str:
        parts = []
        if self.count is not None:
            parts.append(str(self.count))
        if self.percent is not None:
            floor = f" (at least {self.floor})" if self.floor else ""
            parts.append(f"{self.percent:g}%{floor}")
        return " or ".join(parts)


def _threshold(percent: float, floor: int) -> Threshold:
    return Threshold(percent=percent, floor=floor)


SOURCE_DEFAULTS: dict[str, Threshold] = {
    "removed": _threshold(5, 5),
    "emptied": _threshold(10, 5),
}
"""Source thresholds that hold unless the pipeline file turns them off."""

ThresholdKey = Literal[
    "joiner",
    "mover",
    "leaver",
    "returner",
    "vanished",
    "retired",
    "resource",
    "create",
    "update",
    "enable",
    "revoke",
    "grant",
    "disable",
    "delete",
]
"""What a target threshold counts: a transition, or an action kind."""

TARGET_DEFAULTS: dict[ThresholdKey, Threshold] = {
    "disable": _threshold(10, 10),
    "delete": _threshold(10, 10),
    "revoke": _threshold(10, 10),
}
"""Target thresholds that hold unless the pipeline file turns them off."""


def _target_defaults() -> dict[ThresholdKey, Threshold | None]:
    return dict(TARGET_DEFAULTS)


class SourceThresholds(_Config):
    """Hold the whole import when, compared with the last snapshot, too many persons went
    missing or were added, or too many had fields emptied (percentages of the persons in the
    last snapshot). ``removed`` and ``emptied`` are on by default; ``off`` turns one (or, for
    the whole block, all) off. An import of nobody, or one missing more than half of the
    persons, after a snapshot with persons in it, is always held."""

    removed: Threshold | None = SOURCE_DEFAULTS["removed"]
    added: Threshold | None = None
    emptied: Threshold | None = SOURCE_DEFAULTS["emptied"]

    @model_validator(mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        if _is_off(value):
            return {"removed": None, "added": None, "emptied": None}
        if isinstance(value, dict):
            return {k: (None if _is_off(v) else v) for k, v in value.items()}
        return value
