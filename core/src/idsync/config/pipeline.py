"""The whole pipeline file: its sources and targets, what it reads of itself, and its warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, WithJsonSchema, field_validator, model_validator

from idsync.config.base import ConfigError, _Config
from idsync.config.systems import SourceConfig, TargetConfig, _target_expressions
from idsync.config.thresholds import SOURCE_DEFAULTS, TARGET_DEFAULTS
from idsync.expressions import accounts_read
from idsync.state.shared import STATE_JSON_SCHEMA


class Pipeline(_Config):
    """The whole pipeline file."""

    state: Annotated[str, WithJsonSchema(STATE_JSON_SCHEMA)] = "sqlite:///idsync.db"
    sources: dict[str, SourceConfig]
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    name: str | None = None
    timezone: str | None = None
    """The IANA time zone (``Europe/Amsterdam``) whose calendar decides what *today* is for
    every date rule; without it, the host's local date."""

    @field_validator("sources")
    @classmethod
    def _at_least_one(cls, value: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        if not value:
            raise ValueError("at least one source is required")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Amsterdam'"
            ) from None
        return value

    @model_validator(mode="after")
    def _distinct_names(self) -> Pipeline:
        both = set(self.sources) & set(self.targets)
        if both:
            raise ValueError(f"names used for a source and a target: {sorted(both)}")
        return self

    # Filled by load_pipeline, not part of the file (pydantic private attributes: each
    # instance gets a copy of the default).
    _path: Path | None = None
    _settings: dict[str, BaseModel] = {}  # noqa: RUF012
    _sections: dict[str, BaseModel] = {}  # noqa: RUF012

    @property
    def path(self) -> Path | None:
        """Where the file was read from."""
        return self._path

    @property
    def label(self) -> str:
        """The name stored with runs: ``name`` or the file's stem."""
        return self.name or (self._path.stem if self._path else "pipeline")

    def section(self, key: str) -> BaseModel | None:
        """A plugin's top-level section of the file (``notifications``), validated with the
        plugin's model, or None when the file has none. See ``idsync_pipeline_sections``."""
        return self._sections.get(key)

    def plugins(self) -> set[str]:
        """The plugins the pipeline's sources and targets use."""
        return {s.plugin for s in self.sources.values()} | {t.plugin for t in self.targets.values()}

    def today(self) -> dt.date:
        """Today in the pipeline's time zone (the host's local date without one)."""
        if self.timezone is None:
            return dt.date.today()
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    def warnings(self) -> list[tuple[str, str]]:
        """``(key path, message)`` for settings that are valid but turn a safeguard off."""
        out: list[tuple[str, str]] = []
        for name, source in self.sources.items():
            off = [k for k in SOURCE_DEFAULTS if getattr(source.thresholds, k) is None]
            if off:
                out.append(
                    (
                        f"sources.{name}.thresholds",
                        f"turned off: {', '.join(off)} (a source that loses persons or data "
                        "is no longer held for review)",
                    )
                )
        for name, target in self.targets.items():
            correlate = target.account.correlate
            if correlate is None:
                out.append(
                    (
                        f"targets.{name}.account.correlate",
                        "not set: idsync cannot find an account made by hand, or by a run "
                        "that was interrupted (such a person is then blocked, not created twice)",
                    )
                )
            elif (
                correlate.on_account
                and correlate.person.removeprefix("account.") in target.account.unique
            ):
                out.append(
                    (
                        f"targets.{name}.account.correlate",
                        f"correlates on {correlate.person}, a value idsync generates: a "
                        "namesake's account can match; correlate on a stable key of the person "
                        "(external_id, an employee number) where the target has one",
                    )
                )
            off = [k for k in TARGET_DEFAULTS if target.thresholds.get(k) is None]
            if off:
                out.append(
                    (
                        f"targets.{name}.thresholds",
                        f"turned off: {', '.join(off)} (mass changes that take access away "
                        "are no longer held for review)",
                    )
                )
        return out

    def dependencies(self) -> dict[str, dict[str, str]]:
        """``{target: {other target: key path}}``: the targets each target's expressions read
        through ``accounts.<other>``, with where one of those reads is."""
        out: dict[str, dict[str, str]] = {}
        for name, target in self.targets.items():
            reads: dict[str, str] = {}
            for path, text, rule in _target_expressions(name, target):
                if isinstance(text, str):
                    for other in accounts_read(text, rule):
                        reads.setdefault(other, path)
            out[name] = reads
        return out

    def target_order(self) -> list[str]:
        """The targets in the order they are planned and enforced: file order, except that a
        target whose expressions read ``accounts.<other>`` comes after ``<other>``."""
        deps = self.dependencies()
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order or name in visiting or name not in self.targets:
                return  # a cycle is refused at load; here it just keeps file order
            visiting.add(name)
            for other in deps.get(name, {}):
                visit(other)
            visiting.discard(name)
            order.append(name)

        for name in self.targets:
            visit(name)
        return order

    def settings_for(self, system: str) -> BaseModel:
        """The validated plugin settings of a configured source or target."""
        try:
            return self._settings[system]
        except KeyError:
            raise ConfigError(
                str(self._path), [(system, "settings not loaded (the file was read offline)")]
            ) from None
