"""A configured source or target: its plugin, settings, lifecycle, account, permissions and
thresholds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Self

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, field_validator, model_validator

from idsync.config.base import _Config
from idsync.config.thresholds import (
    TARGET_DEFAULTS,
    SourceThresholds,
    Threshold,
    ThresholdKey,
    _is_off,
    _target_defaults,
)
from idsync.model import Permission


class Missing(_Config):
    """How long a person missing from the source is still taken as present.

    A person absent from one import is not a leaver: the source keeps their last data until
    they have been missing for ``days`` days *and* from the imports of ``imports`` different
    days in a row (several runs on one day count once); only then are they gone (their
    accounts retire like any leaver's). A person back in time is simply present again.
    """

    days: int = Field(default=3, ge=0)
    """Days a person must be missing before they are gone."""
    imports: int = Field(default=2, ge=1)
    """Days with an import a person must be missing from, in a row, before they are gone."""


class SourceConfig(_Config):
    """A configured source system."""

    plugin: str
    settings: dict[str, Any] = Field(default_factory=dict)
    thresholds: SourceThresholds = Field(default_factory=SourceThresholds)
    missing: Missing = Field(default_factory=Missing)
    """How long a person the source no longer lists is kept as they were."""
    enabled: bool = True


class Correlate(_Config):
    """Person value ↔ account field: the same identity when they are equal.

    ``person`` is a path into the person (``external_id``, ``contact.email``) or into the
    desired account (``account.userName``).
    """

    person: str = "external_id"
    account: str
    leavers: bool = True
    """Also look up persons the source knows but the rules give no account (leavers, persons
    out of conditions) when idsync has none linked for them: an account found (made by hand
    before idsync, say) is linked and retired like any leaver's. Only with ``person`` a path
    into the person (a stable key), never a generated account value: a namesake's account is
    never retired."""

    @property
    def on_account(self) -> bool:
        """Whether the person's side is a value of the desired account (``account.…``)."""
        return self.person.startswith("account.")


class UniqueRule(_Config):
    """A unique attribute: candidate templates tried in order (``suffix`` counts up after),
    and what happens to an existing account's value when its first candidate changes (a
    rename). Written as a list of templates (``rename: keep``) or a mapping."""

    candidates: list[str] = Field(min_length=1)
    """The templates, in order of preference."""
    rename: Literal["keep", "regenerate"] = "keep"
    """``keep``: an account keeps the value it was given, whatever happens to the name it was
    made from. ``regenerate``: it gets the first free candidate of its new name (the target
    must allow the rename; one it refuses is reported, not tried again each run)."""

    _listed: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _list(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(value, list):
            rule = handler({"candidates": value})
            rule._listed = True
            return rule
        return handler(value)

    def where(self, index: int) -> str:
        """The key path of candidate ``index`` below the attribute, as the file writes it."""
        return str(index) if self._listed else f"candidates.{index}"


class Lifecycle(_Config):
    """When an account is created, enabled, disabled and deleted, in days around contracts."""

    create_days_before_start: int = Field(default=14, ge=0)
    enable_days_before_start: int = Field(default=0, ge=0)
    disable_days_after_end: int = Field(default=0, ge=0)
    delete_days_after_disable: int | None = Field(default=30, ge=0)
    """None: never delete, only disable."""

    @model_validator(mode="after")
    def _create_before_enable(self) -> Lifecycle:
        if self.create_days_before_start < self.enable_days_before_start:
            raise ValueError(
                "create_days_before_start must be at least enable_days_before_start "
                "(an account cannot be enabled before it exists)"
            )
        return self


class AccountConfig(_Config):
    """Who gets an account in a target, with which attributes, and when."""

    when: str | None = None
    """Business rule per contract; a person is entitled through the contracts it accepts."""
    correlate: Correlate | None = None
    mapping: dict[str, Any] = Field(default_factory=dict)
    unique: dict[str, UniqueRule] = Field(default_factory=dict)
    """Unique attributes with candidate templates, tried in order (``suffix`` counts up after)."""
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    update_on_correlate: bool = True
    manager: bool = True
    """Pass the manager's account reference to the target."""


class PermissionRule(_Config):
    """A static grant (``grant``) or a dynamic one (``dynamic``: a template per contract)."""

    when: str | None = None
    grant: str | None = None
    dynamic: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PermissionRule:
        if (self.grant is None) == (self.dynamic is None):
            raise ValueError("give exactly one of 'grant' or 'dynamic'")
        if self.grant is not None:
            Permission.parse(self.grant)
        elif self.dynamic is not None and ":" not in self.dynamic:
            raise ValueError(f"dynamic permission {self.dynamic!r} is not of the form 'kind:…'")
        return self


class TargetConfig(_Config):
    """A configured target system."""

    plugin: str
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    account: AccountConfig = Field(default_factory=AccountConfig)
    permissions: list[PermissionRule] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    """Resource templates rendered per department, e.g. ``group:department_{{ department.code }}``."""
    thresholds: dict[ThresholdKey, Threshold | None] = Field(default_factory=_target_defaults)
    """Per transition (``leaver``…) or action kind (``disable``…): at most this many persons
    per run. ``disable``, ``delete`` and ``revoke`` are on by default; ``off`` turns one, or
    the whole block, off."""
    concurrency: int = Field(default=8, ge=1, le=256)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _with_defaults(cls, value: Any) -> Any:
        if _is_off(value):
            return dict.fromkeys(TARGET_DEFAULTS)
        if isinstance(value, dict):
            given = {k: (None if _is_off(v) else v) for k, v in value.items()}
            return {**TARGET_DEFAULTS, **given}
        return value

    def active_thresholds(self) -> dict[str, Threshold]:
        """The thresholds that hold (the ones not turned off)."""
        return {k: v for k, v in self.thresholds.items() if v is not None}


def _target_expressions(name: str, target: TargetConfig) -> Iterator[tuple[str, Any, bool]]:
    """Every expression of a target: ``(key path, text, is a rule)``."""
    base = f"targets.{name}"
    yield f"{base}.account.when", target.account.when, True
    for key, template in target.account.mapping.items():
        yield f"{base}.account.mapping.{key}", template, False
    for key, unique in target.account.unique.items():
        for i, template in enumerate(unique.candidates):
            yield f"{base}.account.unique.{key}.{unique.where(i)}", template, False
    for i, rule in enumerate(target.permissions):
        yield f"{base}.permissions.{i}.when", rule.when, True
        yield f"{base}.permissions.{i}.dynamic", rule.dynamic, False
    for i, template in enumerate(target.resources):
        yield f"{base}.resources.{i}", template, False
