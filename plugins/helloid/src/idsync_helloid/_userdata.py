"""Between idsync's flat account data and HelloID's nested user object.

The pipeline's mapping names account keys after the user object's fields; a dotted key such
as ``userAttributes.department`` is a field of a nested object. Keys are matched without
regard to case, as HelloID's own connector (PowerShell) does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "RESERVED",
    "apply_values",
    "flatten",
    "has",
    "lookup",
    "pick",
    "reserved_keys",
]

_MISSING = object()

RESERVED: dict[str, str] = {
    "userguid": "it is HelloID's own id for the user (the account reference)",
    "isenabled": "the enable and disable actions set it",
    "isdeleted": "the delete action sets it",
    "issoftdeleted": "a create sets it to restore a soft-deleted user (soft_deleted_users)",
    "password": "the settings set_password and password_length govern it",
    "mustchangepassword": "the setting must_change_password governs it",
    "managedbyuserguid": "the setting set_manager fills it from the manager's account",
    "identifierobject": "renames go through update_user_name",
}
"""Account keys a mapping may not set, with the reason a message gives."""


def reserved_keys(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that the plugin itself governs, as messages name them."""
    return [
        f"{key!r} ({RESERVED[key.split('.', 1)[0].casefold()]})"
        for key in keys
        if key.split(".", 1)[0].casefold() in RESERVED
    ]


def _find_key(obj: Mapping[str, Any], name: str) -> str | None:
    if name in obj:
        return name
    folded = name.casefold()
    return next((key for key in obj if key.casefold() == folded), None)


def lookup(obj: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The value at a flat ``key`` (``userAttributes.department``) in a nested object."""
    current: Any = obj
    for part in key.split("."):
        if not isinstance(current, Mapping):
            return default
        found = _find_key(current, part)
        if found is None:
            return default
        current = current[found]
    return current


def has(obj: Mapping[str, Any], key: str) -> bool:
    """Whether a flat ``key`` exists in a nested object."""
    return lookup(obj, key, _MISSING) is not _MISSING


def apply_values(obj: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``obj`` with flat ``values`` written into it.

    Nested objects are merged, never replaced: ``userAttributes.title`` leaves the other
    attributes alone, and a whole ``userAttributes`` dict is merged key by key. A nested key
    set to None is removed (HelloID keeps no empty attributes); a top-level one becomes null.
    """
    result: dict[str, Any] = copy.deepcopy(dict(obj))
    for key, value in values.items():
        parts = key.split(".")
        target = result
        for part in parts[:-1]:
            found = _find_key(target, part) or part
            if not isinstance(target.get(found), dict):
                target[found] = {}
            target = target[found]
        leaf = _find_key(target, parts[-1]) or parts[-1]
        if isinstance(value, Mapping) and isinstance(target.get(leaf), dict):
            target[leaf] = apply_values(target[leaf], value)
        elif value is None and len(parts) > 1:
            target.pop(leaf, None)
        else:
            target[leaf] = copy.deepcopy(value)
    return result


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested object as flat account data: nested objects become dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def pick(obj: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The flat ``keys`` as they stand in ``obj`` (absent ones as None), named as given."""
    return {key: lookup(obj, key) for key in keys}
