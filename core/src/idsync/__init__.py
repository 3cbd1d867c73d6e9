"""idsync: an identity-lifecycle provisioning engine.

Sources (HR, service desk) in, accounts and access in target systems out; every system is a
plugin found through the ``idsync.plugins`` entry-point group and called through pluggy hooks.
"""

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
from idsync.world import World, generate_world

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
    "World",
    "__version__",
    "generate_world",
    "hookimpl",
    "validation_problem",
]
