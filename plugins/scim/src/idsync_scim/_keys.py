"""Between idsync's flat account data and SCIM resources: mapping keys are attribute paths.

A mapping key is a SCIM attribute path (RFC 7644 §3.10), parsed by scim2-models:

- ``userName``, ``title``: an attribute;
- ``name.givenName``: a sub-attribute of a complex attribute;
- ``emails[type eq "work"].value``: a sub-attribute of the entry of a multi-valued attribute
  whose ``type`` (or another sub-attribute) has a value, made when it is missing;
- ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber``: an
  attribute of a schema extension, written with the extension's URN.

Names are matched without regard to case, as RFC 7643 §2.1 says. The same paths serve as
PATCH paths, so an update sends exactly the attributes that changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import InvalidPathException, Path
from scim2_models.path import AttrPath, CompareOperator, Comparison, ValuePath

__all__ = [
    "Key",
    "KeyProblem",
    "apply_values",
    "flatten",
    "holds",
    "key_of",
    "literal",
    "patch_operations",
    "pick",
    "read",
]

SKIPPED = frozenset({"schemas", "id", "meta", "groups", "password"})
"""Attributes never part of account data: the server's own, or never read back."""


class KeyProblem(ValueError):
    """A mapping key that is not an attribute path the plugin can read and write."""


@dataclass(frozen=True)
class Key:
    """A parsed mapping key: where its value lives in a resource."""

    text: str
    """The key as the pipeline writes it."""
    urn: str | None
    """The schema extension it belongs to; None for the resource's core schema."""
    attr: str
    sub: str | None = None
    select: tuple[str, Any] | None = None
    """``(sub-attribute, value)`` that picks the entry of a multi-valued attribute."""

    @property
    def path(self) -> str:
        """The key as a SCIM path (PATCH ``path``, filter attribute), in its canonical form."""
        head = f"{self.urn}:{self.attr}" if self.urn else self.attr
        if self.select is not None:
            name, value = self.select
            head += f"[{name} eq {literal(value)}]"
        return f"{head}.{self.sub}" if self.sub else head

    @property
    def attribute(self) -> str:
        """The attribute it designates, selection left out (``emails.value``)."""
        head = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{head}.{self.sub}" if self.sub else head

    def filter(self, value: Any) -> str:
        """A SCIM filter matching resources whose value at this key is ``value``."""
        if self.select is None:
            return f"{self.path} eq {literal(value)}"
        name, selected = self.select
        head = f"{self.urn}:{self.attr}" if self.urn else self.attr
        inner = f"{name} eq {literal(selected)}"
        if self.sub:
            inner += f" and {self.sub} eq {literal(value)}"
        return f"{head}[{inner}]"


def literal(value: Any) -> str:
    """A filter literal: JSON's spelling (strings quoted and escaped, true, false, null)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def key_of(text: str, core: str) -> Key:
    """Parse a mapping key; ``core`` is the URN of the resource's core schema.

    Raises :class:`KeyProblem` naming the key when it is not a path the plugin handles.
    """
    try:
        node = Path(text).ast
    except InvalidPathException as exc:
        raise KeyProblem(f"{text!r} is not a SCIM attribute path: {exc.detail or exc}") from exc
    select: tuple[str, Any] | None = None
    if isinstance(node, ValuePath):
        head, sub = node.attr_path, node.sub_attr
        inner = node.val_filter
        if (
            not isinstance(inner, Comparison)
            or inner.op is not CompareOperator.eq
            or inner.attr_path.sub_attr is not None
            or inner.attr_path.uri is not None
        ):
            raise KeyProblem(
                f"{text!r}: a mapping key selects an entry with one equality, such as "
                'emails[type eq "work"].value'
            )
        if sub is None:
            raise KeyProblem(
                f"{text!r} names a whole entry; name the sub-attribute to write, such as "
                f"{text}.value"
            )
        select = (inner.attr_path.attr, inner.value)
    elif isinstance(node, AttrPath):
        head, sub = node, node.sub_attr
    else:
        raise KeyProblem(f"{text!r} is a filter, not an attribute path")
    urn = head.uri
    if urn is not None and urn.casefold() == core.casefold():
        urn = None
    return Key(text=text, urn=urn, attr=head.attr, sub=sub, select=select)


def _find(obj: Mapping[str, Any], name: str) -> str | None:
    if name in obj:
        return name
    folded = name.casefold()
    return next((k for k in obj if k.casefold() == folded), None)


def _get(obj: Any, name: str) -> Any:
    if not isinstance(obj, Mapping):
        return None
    found = _find(obj, name)
    return None if found is None else obj[found]


def _same(held: Any, wanted: Any) -> bool:
    if isinstance(held, str) and isinstance(wanted, str):
        return held.casefold() == wanted.casefold()
    return bool(held == wanted)


def _container(resource: Mapping[str, Any], key: Key) -> Any:
    return resource if key.urn is None else _get(resource, key.urn)


def _entry(values: Any, key: Key) -> dict[str, Any] | None:
    if key.select is None or not isinstance(values, list):
        return None
    name, wanted = key.select
    return next(
        (v for v in values if isinstance(v, dict) and _same(_get(v, name), wanted)),
        None,
    )


def read(resource: Mapping[str, Any], key: Key) -> Any:
    """The value at ``key`` in a resource (None when absent)."""
    value = _get(_container(resource, key), key.attr)
    if key.select is not None:
        value = _entry(value, key)
    return _get(value, key.sub) if key.sub else value


def holds(resource: Mapping[str, Any], key: Key) -> bool:
    """Whether the entry a selecting key writes into already exists (always, without one)."""
    if key.select is None:
        return True
    return _entry(_get(_container(resource, key), key.attr), key) is not None


def pick(resource: Mapping[str, Any], keys: Iterable[Key]) -> dict[str, Any]:
    """The values at ``keys``, named as the pipeline writes them."""
    return {key.text: read(resource, key) for key in keys}


def apply_values(resource: Mapping[str, Any], values: Mapping[Key, Any]) -> dict[str, Any]:
    """A copy of ``resource`` with ``values`` written in (None removes a value).

    An entry picked by a selection is made when missing, and removed when nothing but its
    selecting sub-attribute is left.
    """
    result: dict[str, Any] = copy.deepcopy(dict(resource))
    for key, value in values.items():
        if key.urn is None:
            container = result
        else:
            found = _find(result, key.urn) or key.urn
            if not isinstance(result.get(found), dict):
                result[found] = {}
            container = result[found]
        name = _find(container, key.attr) or key.attr
        if key.select is not None and key.sub is not None:
            entries = container.get(name)
            if not isinstance(entries, list):
                entries = container[name] = []
            entry = _entry(entries, key)
            if entry is None:
                if value is None:
                    continue
                entry = {key.select[0]: key.select[1]}
                entries.append(entry)
            _set(entry, key.sub, value)
            if set(map(str.casefold, entry)) <= {key.select[0].casefold()}:
                entries.remove(entry)
            if not entries:
                container.pop(name)
        elif key.sub is not None:
            inner = container.get(name)
            if not isinstance(inner, dict):
                if value is None:
                    continue
                inner = container[name] = {}
            _set(inner, key.sub, value)
            if not inner:
                container.pop(name)
        else:
            _set(container, key.attr, value)
        if key.urn is not None and not container:
            result.pop(_find(result, key.urn) or key.urn, None)
    return result


def _set(obj: dict[str, Any], name: str, value: Any) -> None:
    found = _find(obj, name) or name
    if value is None:
        obj.pop(found, None)
    else:
        obj[found] = copy.deepcopy(value)


def patch_operations(current: Mapping[str, Any], values: Mapping[Key, Any]) -> list[dict[str, Any]]:
    """PATCH operations (RFC 7644 §3.5.2) that write ``values`` over ``current``.

    A value is replaced where it is; a value set to None is removed; the entry of a
    selecting key that does not exist yet is added whole, with every value for it.
    """
    operations: list[dict[str, Any]] = []
    new_entries: dict[tuple[str | None, str, str, str], dict[str, Any]] = {}
    for key, value in values.items():
        if key.select is not None and not holds(current, key):
            if value is None:
                continue
            name, selected = key.select
            group = (key.urn, key.attr.casefold(), name.casefold(), str(selected).casefold())
            entry = new_entries.get(group)
            if entry is None:
                entry = new_entries[group] = {name: selected}
                head = f"{key.urn}:{key.attr}" if key.urn else key.attr
                operations.append({"op": "add", "path": head, "value": [entry]})
            if key.sub is not None:
                entry[key.sub] = value
        elif value is None:
            operations.append({"op": "remove", "path": key.path})
        else:
            operations.append({"op": "replace", "path": key.path, "value": value})
    return operations


def flatten(resource: Mapping[str, Any], extensions: Iterable[str] = ()) -> dict[str, Any]:
    """A resource as flat account data, keyed by the canonical paths of :class:`Key`.

    Complex attributes become ``name.givenName``; typed entries of a multi-valued attribute
    ``emails[type eq "work"].value``; extension attributes carry their URN. The server's own
    attributes (``id``, ``meta``, ``schemas``) and ``groups`` are left out.
    """
    urns = {urn.casefold() for urn in extensions}
    flat: dict[str, Any] = {}
    for name, value in resource.items():
        if name in SKIPPED:
            continue
        if (name.casefold() in urns and isinstance(value, Mapping)) or (
            name.startswith("urn:") and isinstance(value, Mapping)
        ):
            _flatten_into(flat, value, f"{name}:")
        else:
            _flatten_into(flat, {name: value}, "")
    return flat


def _flatten_into(flat: dict[str, Any], values: Mapping[str, Any], prefix: str) -> None:
    for name, value in values.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                flat[f"{prefix}{name}.{sub}"] = inner
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for entry in value:
                kind = entry.get("type")
                if not isinstance(kind, str):
                    continue
                for sub, inner in entry.items():
                    if sub != "type":
                        flat[f"{prefix}{name}[type eq {literal(kind)}].{sub}"] = inner
        else:
            flat[f"{prefix}{name}"] = value
