"""The pipeline file: one YAML file, validated by pydantic, with errors that say where.

``${NAME}`` references are resolved from the environment at load; a setting the plugin marks as
``SecretStr`` must come from such a reference (secrets are never written in the file) and its
value is registered for redaction. Every problem is collected and reported at once as
``file: key.path: problem``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from idsync.declarations import check_declarations
from idsync.expressions import ExpressionError, Expressions, accounts_read
from idsync.model import Permission
from idsync.plugins import FunctionConflict
from idsync.secrets import collect_secrets, register_secret
from idsync.sections import take_sections
from idsync.state.location import literal_password, state_problem, substitute
from idsync.typecheck import check_targets
from idsync.yamlfile import YamlProblem, load_yaml

if TYPE_CHECKING:
    from idsync.plugins import Registry

__all__ = [
    "SOURCE_DEFAULTS",
    "TARGET_DEFAULTS",
    "TRANSITIONS",
    "AccountConfig",
    "ConfigError",
    "Correlate",
    "Lifecycle",
    "Missing",
    "PermissionRule",
    "Pipeline",
    "SourceConfig",
    "SourceThresholds",
    "TargetConfig",
    "Threshold",
    "UniqueRule",
    "load_pipeline",
]

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL)", re.I)


class ConfigError(Exception):
    """A pipeline file that cannot be used; ``errors`` lists ``(key path, problem)`` pairs."""

    def __init__(self, file: str, errors: list[tuple[str, str]]) -> None:
        self.file = file
        self.errors = errors
        super().__init__("\n".join(f"{file}: {path or '(top)'}: {msg}" for path, msg in errors))


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class Pipeline(_Config):
    """The whole pipeline file."""

    state: str = "sqlite:///idsync.db"
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

    # Filled by load_pipeline, not part of the file.
    _path: Path | None = None
    _settings: dict[str, BaseModel] = {}
    _sections: dict[str, BaseModel] = {}

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


def _loc(parts: tuple[int | str, ...]) -> str:
    # pydantic marks a mapping's key itself as "[key]": the key path ends at the key.
    return ".".join(str(p) for p in parts if p != "[key]")


def _resolve(
    value: Any, env: Mapping[str, str], path: str, errors: list[tuple[str, str]], refs: set[str]
) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                errors.append((path, f"environment variable {name} is not set"))
                return ""
            refs.add(path)
            if _SECRET_NAME.search(name):
                register_secret(env[name])
            return env[name]

        if path == "state":
            return substitute(value, sub)  # a password with any character stays intact
        return _REF.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: _resolve(v, env, f"{path}.{k}" if path else str(k), errors, refs)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(v, env, f"{path}.{i}", errors, refs) for i, v in enumerate(value)]
    return value


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


def _check_expressions(
    targets: Mapping[str, TargetConfig], expressions: Expressions
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for name, target in targets.items():
        for path, text, rule in _target_expressions(name, target):
            if not isinstance(text, str):
                continue
            try:
                if rule:
                    expressions.rule(text)
                else:
                    expressions.template(text)
            except ExpressionError as exc:
                errors.append((path, str(exc)))
    return errors


def _check_dependencies(pipeline: Pipeline) -> list[tuple[str, str]]:
    """A read of ``accounts.<other>`` names a target of the file, and no two targets read
    each other's accounts (one of them would always read values of the run before)."""
    errors: list[tuple[str, str]] = []
    deps = pipeline.dependencies()
    for name, reads in deps.items():
        for other, path in reads.items():
            if other not in pipeline.targets:
                known = ", ".join(pipeline.targets)
                errors.append(
                    (
                        path,
                        f"reads accounts.{other}, but there is no target {other!r} (targets: {known})",
                    )
                )
            elif other == name:
                errors.append(
                    (path, f"reads accounts.{name}: a target cannot read its own account data")
                )
            elif name in deps.get(other, {}):
                errors.append(
                    (
                        path,
                        f"reads accounts.{other}, and {other} reads accounts.{name} "
                        f"({deps[other][name]}): one of them must not depend on the other",
                    )
                )
    return errors


def _systems(resolved: dict[str, Any]) -> list[tuple[str, str, SourceConfig | TargetConfig, str]]:
    """Each source and target validated on its own, so one broken system hides no other's
    problems; their errors are in the top-level validation already."""
    out: list[tuple[str, str, SourceConfig | TargetConfig, str]] = []
    for section, model, role in (
        ("sources", SourceConfig, "source"),
        ("targets", TargetConfig, "target"),
    ):
        systems = resolved.get(section)
        if not isinstance(systems, dict):
            continue
        for name, raw in systems.items():
            try:
                out.append((f"{section}.{name}", str(name), model.model_validate(raw), role))
            except ValidationError:
                continue
    return out


def load_pipeline(
    path: str | Path,
    registry: Registry,
    env: Mapping[str, str] | None = None,
    expressions: Expressions | None = None,
    *,
    offline: bool = False,
) -> Pipeline:
    """Read, resolve and validate a pipeline file, plugin settings included.

    ``offline`` loads it for commands that only read the state store (``audit``, ``person``):
    environment variables may be missing and plugin settings are not validated, so
    :meth:`Pipeline.settings_for` is unavailable. Raises :class:`ConfigError` listing every
    problem found.
    """
    file = Path(path)
    where = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(where, [("", "the file is not UTF-8 text")]) from None
    try:
        raw = load_yaml(text)
    except YamlProblem as exc:
        raise ConfigError(where, exc.problems) from None
    if not isinstance(raw, dict):
        raise ConfigError(where, [("", "the file must be a mapping with 'sources' and 'targets'")])

    errors: list[tuple[str, str]] = []
    refs: set[str] = set()
    environment = os.environ if env is None else env
    if offline:
        environment = _Lenient(environment)
    resolved = _resolve(raw, environment, "", errors, refs)
    sections = take_sections(
        resolved, registry, refs, errors, offline=offline, reserved=Pipeline.model_fields
    )
    pipeline: Pipeline | None = None
    try:
        pipeline = Pipeline.model_validate(resolved)
    except ValidationError as exc:
        errors.extend((_loc(e["loc"]), e["msg"]) for e in exc.errors())
    if pipeline is not None:
        systems: list[tuple[str, str, SourceConfig | TargetConfig, str]] = [
            (f"sources.{n}", n, s, "source") for n, s in pipeline.sources.items()
        ] + [(f"targets.{n}", n, t, "target") for n, t in pipeline.targets.items()]
    else:
        systems = _systems(resolved)
    settings_of: dict[str, BaseModel] = {}
    for base, name, system, role in systems:
        info = registry.get(system.plugin)
        if info is None:
            known = ", ".join(sorted(registry.names())) or "none installed"
            errors.append(
                (f"{base}.plugin", f"no plugin named {system.plugin!r} (installed: {known})")
            )
            continue
        if info.error or info.about is None:
            errors.append(
                (f"{base}.plugin", f"plugin {system.plugin!r} failed to load: {info.error}")
            )
            continue
        if role not in info.roles:
            errors.append(
                (f"{base}.plugin", f"plugin {system.plugin!r} is not a {role} ({info.about.kind})")
            )
            continue
        if offline:
            continue
        model = info.about.settings
        for field_name, field in model.model_fields.items():
            if field.annotation in (SecretStr, SecretStr | None) and system.settings.get(
                field_name
            ):
                key = f"{base}.settings.{field_name}"
                if key not in refs:
                    errors.append(
                        (key, "a secret must come from the environment: write ${VARIABLE}")
                    )
        try:
            settings = model.model_validate(system.settings)
        except ValidationError as exc:
            # A key already reported (a missing variable, a literal secret) is not reported
            # again for the empty or literal value it was left with.
            reported = {path for path, _ in errors}
            for e in exc.errors():
                key = f"{base}.settings.{_loc(e['loc'])}"
                if key not in reported:
                    errors.append((key, e["msg"]))
            continue
        for secret in collect_secrets(settings):
            register_secret(secret)
        settings_of[name] = settings

    if literal_password(raw.get("state")):
        errors.append(("state", "a password must come from the environment: write ${VARIABLE}"))
    elif pipeline is not None and (problem := state_problem(pipeline.state)) is not None:
        errors.append(("state", problem))
    targets = {name: cfg for _, name, cfg, role in systems if role == "target"}
    settled = True
    if expressions is None:
        try:
            expressions = Expressions(
                registry.expression_functions(s.plugin for *_, s, _ in systems)
            )
        except FunctionConflict as conflict:
            errors.append(_conflict(conflict, systems))
            expressions = Expressions()
            settled = False  # which functions exist is not known: no name is checked yet
    errors.extend(_check_expressions(targets, expressions))  # type: ignore[arg-type]
    if settled:
        reported = {path for path, _ in errors}
        written = resolved.get("targets") if isinstance(resolved, dict) else None
        others = [str(n) for n in written] if isinstance(written, dict) else []  # valid or not
        checked = check_targets(targets, expressions, others)  # type: ignore[arg-type]
        errors.extend(p for p in checked if p[0] not in reported)
    if pipeline is not None:  # an unknown target is named above, with the nearest one
        reported = {path for path, _ in errors}
        errors.extend(p for p in _check_dependencies(pipeline) if p[0] not in reported)
    errors.extend(check_declarations(targets, registry))  # type: ignore[arg-type]
    if errors or pipeline is None:
        raise ConfigError(where, errors)
    pipeline._path = file
    pipeline._settings = settings_of
    pipeline._sections = sections
    return pipeline


def _conflict(
    conflict: FunctionConflict, systems: list[tuple[str, str, SourceConfig | TargetConfig, str]]
) -> tuple[str, str]:
    """A function conflict at the key path of the first system using the second plugin."""
    later = conflict.plugins[1]
    where = next((f"{base}.plugin" for base, _, s, _ in systems if s.plugin == later), "")
    return where, str(conflict)


class _Lenient(dict[str, str]):
    """An environment where every variable is set (to an empty value when it is not)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""
