"""The web console: runs, plans, held work to approve, persons and the audit trail.

An optional part of the core (``pip install 'idsync[console]'``): nothing else in idsync
imports it. ``idsync serve`` runs it over the state store the runs write, and
``idsync users`` manages who may sign in.
"""

from idsync.console.app import ConsoleSettings, Loaded, User, create_app, load_pipelines
from idsync.console.serve import serve
from idsync.console.users import (
    MIN_PASSWORD,
    ROLES,
    UserError,
    add_user,
    authenticate,
    list_users,
    remove_user,
)

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "ConsoleSettings",
    "Loaded",
    "User",
    "UserError",
    "add_user",
    "authenticate",
    "create_app",
    "list_users",
    "load_pipelines",
    "remove_user",
    "serve",
]
