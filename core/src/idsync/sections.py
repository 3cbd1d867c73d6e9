"""Sections of the pipeline file that plugins contribute (``idsync_pipeline_sections``).

The core's own keys (``state``, ``sources``, ``targets``…) are :class:`~idsync.config.Pipeline`'s;
a plugin may add a top-level section of its own (the built-in notifier adds
``notifications``). :func:`take_sections` takes those out of a file before the core validates
the rest, and validates each with its plugin's model, under the same rules: errors name the key
path, and every secret in it comes from a ``${VARIABLE}``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from loguru import logger
from pydantic import BaseModel, ValidationError

from idsync.secrets import register_secret, secret_paths

if TYPE_CHECKING:
    from idsync.plugins import Registry

__all__ = ["take_sections"]


def take_sections(
    resolved: Any,
    registry: Registry,
    refs: set[str],
    errors: list[tuple[str, str]],
    *,
    offline: bool = False,
    reserved: Collection[str] = (),
) -> dict[str, BaseModel]:
    """Take the plugins' sections out of the file and validate each with its plugin's model.

    Offline (commands that only read the state store) they are taken out unvalidated: no
    plugin runs there. A ``SecretStr`` inside one must come from a ``${VARIABLE}``. A plugin
    cannot take one of the ``reserved`` keys (the core's own): it is left to the core.
    """
    if not isinstance(resolved, dict):
        return {}
    out: dict[str, BaseModel] = {}
    for key, (plugin, model) in registry.sections().items():
        if key in reserved:
            logger.warning("plugin {} cannot have the section {!r}: the core reads it", plugin, key)
            continue
        if key not in resolved:
            continue
        data = resolved.pop(key)
        if offline:
            continue
        inside = {r.removeprefix(f"{key}.") for r in refs if r.startswith(f"{key}.")}
        try:
            section = model.model_validate(data, context={"from_environment": inside})
        except ValidationError as exc:
            errors.extend(
                (".".join(str(p) for p in (key, *e["loc"])), e["msg"]) for e in exc.errors()
            )
            continue
        for path, secret in secret_paths(section, key):
            if path not in refs:
                errors.append((path, "a secret must come from the environment: write ${VARIABLE}"))
            register_secret(secret)
        out[key] = section
    return out
