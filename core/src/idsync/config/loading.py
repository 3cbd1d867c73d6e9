"""Reading a pipeline file: ``${NAME}`` resolved from the environment, every system's plugin
settings validated, every problem collected."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr, ValidationError

from idsync.config.base import ConfigError
from idsync.config.pipeline import Pipeline
from idsync.config.systems import SourceConfig, TargetConfig
from idsync.config.validation import _check_dependencies, _check_expressions
from idsync.declarations import check_declarations
from idsync.expressions import Expressions
from idsync.plugins import FunctionConflict
from idsync.secrets import collect_secrets, register_secret
from idsync.sections import take_sections
from idsync.state.location import literal_password, state_problem, substitute
from idsync.state.shared import resolve_state
from idsync.typecheck import check_targets
from idsync.yamlfile import YamlProblem, load_yaml

if TYPE_CHECKING:
    from idsync.plugins import Registry

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL)", re.I)


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

        if path in ("state", "state.url"):
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
    if "state" in resolved:  # a mapping: the URL in the pipeline's own schema
        name = resolved.get("name")
        resolved["state"] = resolve_state(
            resolved["state"], name if isinstance(name, str) else file.stem, errors
        )
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
