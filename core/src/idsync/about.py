"""Describing plugins and the pipeline file: ``idsync plugins --about`` and ``config-schema``."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel, SecretStr

from idsync.config import Pipeline
from idsync.plugins import PluginInfo, Registry

__all__ = ["describe", "pipeline_schema", "settings_rows", "type_name"]


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def type_name(annotation: Any) -> str:
    """A setting's type as people read it: ``str``, ``str | None``, ``list[str]``,
    ``one of: v2, classic`` (a ``Literal``), ``secret`` (a ``SecretStr``)."""
    if _is_secret(annotation):
        return "secret"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _choices(annotation: Any) -> list[Any] | None:
    """The allowed values of a ``Literal`` setting (also inside ``X | None``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    return None


def settings_rows(info: PluginInfo) -> list[dict[str, Any]]:
    """One row per setting: name, type, default, whether secret and required, the allowed
    values (``choices``, for a fixed set) and the description."""
    if info.about is None:
        return []
    rows = []
    for name, field in info.about.settings.model_fields.items():
        annotation = field.annotation
        secret = _is_secret(annotation)
        default = (
            None if field.is_required() or secret else field.get_default(call_default_factory=True)
        )
        rows.append(
            {
                "name": name,
                "type": type_name(annotation),
                "required": field.is_required(),
                "default": default.model_dump(mode="json")
                if isinstance(default, BaseModel)
                else default,
                "secret": secret,
                "choices": _choices(annotation),
                "description": " ".join((field.description or "").split()),
            }
        )
    return rows


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(text.split()).replace("|", "\\|")


def _markdown(info: PluginInfo, data: dict[str, Any]) -> str:
    kinds = ", ".join(f"`{k}`" for k in data.get("permission_kinds") or [])
    lines = [f"# {info.name}", ""]
    if data["summary"]:
        lines += [data["summary"], ""]
    lines += [
        f"- kind: {data['kind']}",
        f"- package: {data['package']} {data['version']}",
        f"- capabilities: {', '.join(data['capabilities']) or 'none'}",
    ]
    if kinds:
        lines.append(f"- permission kinds: {kinds}")
    if data.get("resource_kinds"):
        lines.append(f"- resource kinds: {', '.join(f'`{k}`' for k in data['resource_kinds'])}")
    if data.get("attributes") is not None:
        lines.append(f"- account attributes: {', '.join(f'`{k}`' for k in data['attributes'])}")
    if data.get("read_only_attributes"):
        names = ", ".join(f"`{k}`" for k in data["read_only_attributes"])
        lines.append(f"- read-only attributes (correlation only): {names}")
    if info.error:
        lines.append(f"- error: {_cell(info.error)}")
    lines += [
        "",
        "| setting | type | required | default | description |",
        "|---|---|---|---|---|",
    ]
    for r in data["settings"]:
        default = "" if r["default"] is None else f"`{_cell(str(r['default']))}`"
        required = "yes" if r["required"] else "no"
        lines.append(
            f"| `{r['name']}` | {_cell(r['type'])} | {required} | {default} | "
            f"{_cell(r['description'])} |"
        )
    return "\n".join(lines) + "\n"


def _text(info: PluginInfo, data: dict[str, Any]) -> str:
    lines = [
        f"{info.name} ({data['kind']}) {data['package']} {data['version']}",
        f"  {data['summary'] or ''}",
        f"  capabilities: {', '.join(data['capabilities']) or 'none'}",
    ]
    if data.get("permission_kinds"):
        lines.append(f"  permission kinds: {', '.join(data['permission_kinds'])}")
    if data.get("resource_kinds"):
        lines.append(f"  resource kinds: {', '.join(data['resource_kinds'])}")
    if data.get("attributes") is not None:
        lines.append(f"  account attributes: {', '.join(data['attributes'])}")
    if data.get("read_only_attributes"):
        lines.append(f"  read-only attributes: {', '.join(data['read_only_attributes'])}")
    if info.error:
        lines.append(f"  error: {info.error}")
    lines.append("  settings:")
    for r in data["settings"]:
        default = "" if r["default"] is None else f" = {r['default']!r}"
        need = " (required)" if r["required"] else ""
        lines.append(f"    {r['name']}: {r['type']}{default}{need}  {r['description']}")
    return "\n".join(lines) + "\n"


def describe(info: PluginInfo, fmt: str = "text") -> str:
    """A plugin's about, capabilities, permission kinds and settings as text, JSON or Markdown."""
    data = info.as_dict()
    data["settings"] = settings_rows(info)
    about = info.about
    data["permission_kinds"] = about.permission_kinds if about is not None else []
    data["resource_kinds"] = about.resource_kinds if about is not None else None
    data["attributes"] = about.attributes if about is not None else None
    data["read_only_attributes"] = about.read_only_attributes if about is not None else []
    if fmt == "json":
        return json.dumps(data, indent=2, default=str) + "\n"
    if fmt == "markdown":
        return _markdown(info, data)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}: use text, json or markdown")
    return _text(info, data)


def pipeline_schema(registry: Registry) -> dict[str, Any]:
    """The pipeline file's JSON Schema, with each plugin's settings schema tied to its name
    and the sections plugins contribute (``notifications``)."""
    schema = Pipeline.model_json_schema()
    defs = schema.setdefault("$defs", {})
    branches = []
    for name in registry.names():
        info = registry.get(name)
        if info is None or info.about is None:
            continue
        settings = info.about.settings.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(settings.pop("$defs", {}))
        key = f"{info.about.settings.__name__}"
        defs[key] = settings
        branches.append(
            {
                "if": {"properties": {"plugin": {"const": name}}},
                "then": {"properties": {"settings": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    for system in ("SourceConfig", "TargetConfig"):
        if system in defs and branches:
            defs[system]["allOf"] = branches
    for key, (_plugin, model) in sorted(registry.sections().items()):
        section = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(section.pop("$defs", {}))
        defs[model.__name__] = section
        schema["properties"][key] = {"$ref": f"#/$defs/{model.__name__}"}
    if "Threshold" in defs:
        defs["Threshold"] = _threshold_schema(defs["Threshold"])
    if "UniqueRule" in defs:  # the candidates alone, as a list, keep their value on a rename
        rule = defs["UniqueRule"]
        defs["UniqueRule"] = {
            "title": rule.get("title", "UniqueRule"),
            "description": rule.get("description", ""),
            "anyOf": [
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
                {k: v for k, v in rule.items() if k not in ("title", "description")},
            ],
        }
    if "SourceThresholds" in defs:  # a whole block may be off too
        defs["SourceThresholds"] = {"anyOf": [defs["SourceThresholds"], *_OFF_SCHEMA]}
    target = defs.get("TargetConfig", {}).get("properties", {})
    if "thresholds" in target:
        target["thresholds"] = {"anyOf": [target["thresholds"], *_OFF_SCHEMA]}
    result: dict[str, Any] = _with_references(schema)
    return result


_ENV_REFERENCE = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*\}",
    "description": "An ${ENVIRONMENT_VARIABLE} reference, resolved when the file is loaded.",
}
_ANNOTATIONS = ("title", "description", "default", "examples")


_OFF_SCHEMA = [
    {"const": False, "description": "off (YAML reads an unquoted off as false)"},
    {"type": "string", "pattern": r"^\s*([Oo][Ff][Ff]|[Ff]alse|[Nn]o|[Nn]one)\s*$"},
]


def _threshold_schema(model: dict[str, Any]) -> dict[str, Any]:
    """A threshold as the file may write it: ``10``, ``"5%"``, ``{count, percent, floor}``,
    or ``off``."""
    return {
        "title": model.get("title", "Threshold"),
        "description": model.get("description", ""),
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+|\d+(\.\d+)?\s*%)\s*$"},
            {k: v for k, v in model.items() if k not in ("title", "description")},
            *_OFF_SCHEMA,
        ],
    }


def _with_references(node: Any) -> Any:
    """Every number or yes/no value of the schema may also be an ``${ENV}`` reference, as
    the loader accepts (text values take them already)."""
    if isinstance(node, list):
        return [_with_references(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: (v if k in ("const", "enum", "default", "examples") else _with_references(v))
        for k, v in node.items()
    }
    if out.get("type") in ("integer", "number", "boolean"):
        notes = {k: out.pop(k) for k in _ANNOTATIONS if k in out}
        return {**notes, "anyOf": [out, _ENV_REFERENCE]}
    return out
