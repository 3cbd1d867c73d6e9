"""The contract kit's check of what a target declares: its attributes and permission kinds.

``idsync check`` holds every pipeline to what a target plugin declares in its
:class:`~idsync.model.PluginAbout` (``attributes``, ``read_only_attributes``,
``permission_kinds``, ``resource_kinds``) and, with ``--connect``, to its live schema
(``idsync_attributes``). A declaration that misses a key the plugin takes would make ``check``
refuse a good pipeline; one that is malformed would make it accept anything. This check holds
the declaration to the plugin's own sample account and permissions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from idsync.declarations import attribute_declared
from idsync.model import Permission, PluginAbout

__all__ = ["declaration_problems"]

_NAME = re.compile(r"^[^\s*]+(\.\*)?$")


def declaration_problems(
    about: PluginAbout,
    hooks: Iterable[str],
    *,
    account: Mapping[str, Any] | None = None,
    permissions: Iterable[Permission] = (),
    live: Iterable[str] | None = None,
    refuses_unknown_keys: bool = False,
) -> list[str]:
    """What is wrong with a target's declaration, given a sample ``account`` (mapped data it
    creates), ``permissions`` it grants, its ``live`` schema when it reads one, and whether
    its connection test refuses a mapping key the target does not have (what a plugin whose
    attributes depend on the server does instead of declaring them)."""
    implemented = set(hooks)
    problems: list[str] = []
    writes = implemented & {"idsync_create", "idsync_update"}
    if writes and about.attributes is None and live is None and not refuses_unknown_keys:
        problems.append(
            f"it implements {', '.join(sorted(writes))} but declares no attributes, and its "
            "connection test accepts a mapping key the target cannot have: set "
            "PluginAbout.attributes (the keys a mapping may set; 'prefix.*' for free-form), "
            "implement idsync_attributes, or refuse unknown keys of ctx.account in "
            "idsync_check_connection"
        )
    declared = list(about.attributes or [])
    for name in [*declared, *about.read_only_attributes]:
        if not _NAME.match(name):
            problems.append(f"attribute {name!r} is not a key or 'prefix.*'")
    overlap = set(declared) & set(about.read_only_attributes)
    if overlap:
        problems.append(f"{sorted(overlap)} are declared both settable and read-only")
    if about.attributes is not None:
        for key in account or {}:
            if not key.startswith("@") and not attribute_declared(key, declared):
                problems.append(f"the sample account's key {key!r} is not among the attributes")
    if implemented & {"idsync_grant", "idsync_revoke"} and not about.permission_kinds:
        problems.append("it grants permissions but declares no permission_kinds")
    for permission in permissions:
        if about.permission_kinds and permission.kind not in about.permission_kinds:
            problems.append(
                f"the sample permission {permission.key!r} is of a kind not declared "
                f"({', '.join(about.permission_kinds)})"
            )
    if about.resource_kinds is not None:
        if "idsync_resource" not in implemented and about.resource_kinds:
            problems.append("it declares resource_kinds but does not implement idsync_resource")
        unknown = set(about.resource_kinds) - set(about.permission_kinds)
        if unknown:
            problems.append(f"resource kinds {sorted(unknown)} are not permission kinds")
    if live is not None:
        offered = list(live)
        bad = [name for name in offered if not isinstance(name, str) or not _NAME.match(name)]
        if bad:
            problems.append(f"idsync_attributes answered names that are not keys: {bad[:5]}")
        for key in account or {}:
            if not key.startswith("@") and not attribute_declared(key, offered):
                problems.append(f"the sample account's key {key!r} is not in the live schema")
    return problems
