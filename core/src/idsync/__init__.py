"""idsync: an identity-lifecycle provisioning engine.

Sources (HR, service desk) in, accounts and access in target systems out; every system is a
plugin found through the ``idsync.plugins`` entry-point group and called through pluggy hooks.
"""

from typing import Any

from idsync.guard import guarded
from idsync.hookspecs import hookimpl
from idsync.http import ApiClient, ApiError
from idsync.model import (
    Account,
    ActionEvent,
    ActionKind,
    ActionResult,
    ActionStatus,
    Blocked,
    Change,
    Contact,
    Contract,
    Correlation,
    Department,
    HookContext,
    Name,
    Permission,
    Person,
    PersonRef,
    PluginAbout,
    PluginKind,
    Ref,
    RunSummary,
    validation_problem,
)

__version__ = "0.1.0"

__all__ = [
    "Account",
    "ActionEvent",
    "ActionKind",
    "ActionResult",
    "ActionStatus",
    "ApiClient",
    "ApiError",
    "Blocked",
    "Change",
    "Contact",
    "Contract",
    "Correlation",
    "Department",
    "HookContext",
    "Name",
    "Permission",
    "Person",
    "PersonRef",
    "PluginAbout",
    "PluginKind",
    "Ref",
    "RunSummary",
    "__version__",
    "guarded",
    "hookimpl",
    "validation_problem",
]


_MOVED = {"World": "idsync.sandbox.world", "generate_world": "idsync.sandbox.world"}
"""Names that left the package root for the sandbox; importing them warns until idsync 0.3."""


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(
            f"idsync.{name} moved to {_MOVED[name]}.{name}; import it from there "
            f"(idsync.{name} goes in idsync 0.3)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'idsync' has no attribute {name!r}")
