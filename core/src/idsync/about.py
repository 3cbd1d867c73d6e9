"""Describing plugins and the pipeline file: ``idsync plugins --about`` and ``config-schema``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from idsync.config import Pipeline
from idsync.plugins import PluginInfo, Registry

__all__ = ["describe", "pipeline_schema", "settings_rows"]


def settings_rows(info: PluginInfo) -> list[dict[str, Any]]:
    """One row per setting: name, type, default, whether secret and required, description."""
    if info.about is None:
        return []
    rows = []
    for name, field in info.about.settings.model_fields.items():
        annotation = field.annotation
        secret = annotation in (SecretStr, SecretStr | None)
        type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        rows.append(
            {
                "name": name,
                "type": "secret" if secret else type_name,
                "required": field.is_required(),
                "default": None
                if field.is_required() or secret
                else field.get_default(call_default_factory=True),
                "secret": secret,
                "description": field.description or "",
            }
        )
    return rows


def describe(info: PluginInfo, fmt: str = "text") -> str:
    """A plugin's about, capabilities and settings as text, JSON or Markdown."""
    data = info.as_dict()
    data["settings"] = settings_rows(info)
    if info.about is not None:
        data["permission_kinds"] = info.about.permission_kinds
    if fmt == "json":
        return json.dumps(data, indent=2, default=str) + "\n"
    if fmt == "markdown":
        lines = [
            f"# {info.name}",
            "",
            data["summary"] or "",
            "",
            f"- kind: {data['kind']}",
            f"- package: {data['package']} {data['version']}",
            f"- capabilities: {', '.join(data['capabilities']) or 'none'}",
            "",
            "| setting | type | required | default | description |",
            "|---|---|---|---|---|",
        ]
        for r in data["settings"]:
            default = "" if r["default"] is None else f"`{r['default']}`"
            required = "yes" if r["required"] else "no"
            lines.append(
                f"| `{r['name']}` | {r['type']} | {required} | {default} | {r['description']} |"
            )
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}: use text, json or markdown")
    lines = [
        f"{info.name} ({data['kind']}) {data['package']} {data['version']}",
        f"  {data['summary'] or ''}",
        f"  capabilities: {', '.join(data['capabilities']) or 'none'}",
    ]
    if info.error:
        lines.append(f"  error: {info.error}")
    lines.append("  settings:")
    for r in data["settings"]:
        default = "" if r["default"] is None else f" = {r['default']!r}"
        need = " (required)" if r["required"] else ""
        lines.append(f"    {r['name']}: {r['type']}{default}{need}  {r['description']}")
    return "\n".join(lines) + "\n"


def pipeline_schema(registry: Registry) -> dict[str, Any]:
    """The pipeline file's JSON Schema, with each plugin's settings schema tied to its name."""
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
    return schema
