"""Checking a pipeline's targets against what their plugins declare they have.

A target plugin declares, in its :class:`~idsync.model.PluginAbout`, the account attributes a
mapping may set (``attributes``, with ``prefix.*`` for free-form nested objects), the keys it
only reads (``read_only_attributes``), the permission kinds it grants (``permission_kinds``)
and the kinds it can create as resources (``resource_kinds``). ``idsync check`` holds every
target of the pipeline file to that: a mapping key the target does not have fails once at load,
not once per person at run time, and ``grant: "role:Admins"`` on a target that knows only
groups and products is found before anything runs. A plugin that declares no attributes
(``attributes=None``) is not checked for them.

``idsync check --connect`` can go further where the target's API describes itself: the
optional hook ``idsync_attributes`` reads the live schema, and :func:`check_live_attributes`
holds the mapping to it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from idsync.model import PluginAbout

if TYPE_CHECKING:
    from idsync.config import TargetConfig
    from idsync.plugins import Registry

__all__ = ["attribute_declared", "check_declarations", "check_live_attributes", "literal_kind"]

Problem = tuple[str, str]


def attribute_declared(key: str, declared: Iterable[str]) -> bool:
    """Whether ``key`` is one of ``declared`` or under a declared ``prefix.*``."""
    for name in declared:
        if name.endswith(".*"):
            prefix = name[:-1]
            if key.startswith(prefix) and len(key) > len(prefix):
                return True
        elif key == name:
            return True
    return False


def _nearest(key: str, declared: Iterable[str]) -> str | None:
    names = [n for n in declared if not n.endswith(".*")]
    folded = {n.casefold(): n for n in names}
    if key.casefold() in folded:
        return folded[key.casefold()]
    for name in declared:
        if name.endswith(".*") and key.casefold().startswith(name[:-1].casefold()):
            return name[:-1] + key[len(name) - 1 :]  # the right case for the prefix
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_key(plugin: str, key: str, declared: list[str], what: str) -> str:
    guess = _nearest(key, declared)
    hint = (
        f"; did you mean {guess!r}?"
        if guess
        else f" (it has: {', '.join(declared)}; idsync plugins --about {plugin})"
    )
    return f"the {plugin} target has no {what} {key!r}{hint}"


def literal_kind(text: str) -> str | None:
    """The permission kind of a grant or template, when written literally: ``group`` of
    ``group:department_{{ contract.department.code }}``; None when the kind is computed."""
    head = text.split("{", 1)[0]
    kind, sep, _ = head.partition(":")
    return kind.strip() if sep and kind.strip() else None


def _kind_problem(plugin: str, kind: str, kinds: list[str], what: str) -> str:
    guess = difflib.get_close_matches(kind, kinds, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return f"the {plugin} target has no {what} kind {kind!r} (it has: {', '.join(kinds)}){hint}"


def check_target(
    base: str, target: TargetConfig, about: PluginAbout, hooks: Iterable[str]
) -> list[Problem]:
    """One target's mapping, correlation, permissions and resources against ``about``."""
    problems: list[Problem] = []
    plugin = about.name
    implemented = set(hooks)
    account = target.account
    if about.attributes is not None:
        declared = list(about.attributes)
        for key in account.mapping:
            if key in about.read_only_attributes:
                problems.append(
                    (
                        f"{base}.account.mapping.{key}",
                        f"the {plugin} target sets {key!r} itself: a mapping cannot (it may be "
                        "read, as correlate.account)",
                    )
                )
            elif not attribute_declared(key, declared):
                problems.append(
                    (
                        f"{base}.account.mapping.{key}",
                        _unknown_key(plugin, key, declared, "account attribute"),
                    )
                )
        for key in account.unique:
            if not attribute_declared(key, declared) and key not in account.mapping:
                problems.append(
                    (
                        f"{base}.account.unique.{key}",
                        _unknown_key(plugin, key, declared, "account attribute"),
                    )
                )
        readable = [*declared, *about.read_only_attributes]
        correlate = account.correlate
        if correlate is not None and not attribute_declared(correlate.account, readable):
            problems.append(
                (
                    f"{base}.account.correlate.account",
                    _unknown_key(plugin, correlate.account, readable, "account attribute"),
                )
            )
    if target.permissions and "idsync_grant" not in implemented:
        problems.append(
            (
                f"{base}.permissions",
                f"the {plugin} target cannot grant permissions (no idsync_grant)",
            )
        )
    elif about.permission_kinds:
        for i, rule in enumerate(target.permissions):
            text, key = (
                (rule.grant, "grant") if rule.grant is not None else (rule.dynamic, "dynamic")
            )
            kind = literal_kind(text or "")
            if kind is not None and kind not in about.permission_kinds:
                problems.append(
                    (
                        f"{base}.permissions.{i}.{key}",
                        _kind_problem(plugin, kind, about.permission_kinds, "permission"),
                    )
                )
    if target.resources and "idsync_resource" not in implemented:
        problems.append(
            (
                f"{base}.resources",
                f"the {plugin} target cannot create resources (no idsync_resource)",
            )
        )
    else:
        kinds = about.resource_kinds if about.resource_kinds is not None else about.permission_kinds
        for i, template in enumerate(target.resources if kinds else []):
            kind = literal_kind(template)
            if kind is not None and kind not in kinds:
                problems.append(
                    (f"{base}.resources.{i}", _kind_problem(plugin, kind, kinds, "resource"))
                )
    return problems


def check_declarations(targets: Mapping[str, TargetConfig], registry: Registry) -> list[Problem]:
    """Every target of the pipeline against its plugin's declarations."""
    problems: list[Problem] = []
    for name, target in targets.items():
        info = registry.get(target.plugin)
        if info is None or info.about is None:
            continue  # reported where the plugin is looked up
        problems.extend(check_target(f"targets.{name}", target, info.about, info.hooks))
    return problems


def check_live_attributes(
    base: str, plugin: str, target: TargetConfig, live: Iterable[str]
) -> list[Problem]:
    """The target's mapping keys against the attributes its live schema lists."""
    offered = list(live)
    return [
        (
            f"{base}.account.mapping.{key}",
            _unknown_key(plugin, key, offered, "attribute (in its live schema)"),
        )
        for key in [*target.account.mapping, *target.account.unique]
        if not attribute_declared(key, offered)
    ]
