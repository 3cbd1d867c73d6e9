"""The state a finished run leaves, written in bulk: for the benchmarks of the next run.

Enforcing 100,000 creates and 270,000 grants for real would take longer than the whole
benchmark may; what the next run reads is only the state store. :func:`apply` writes, for
every action of a plan, exactly the rows the enforcer records when it succeeds (account
data, enabled, unique base, permissions and resources with a reference), in a few large
transactions. The benchmark then checks that planning again finds nothing to do.
"""

from __future__ import annotations

import uuid
from typing import Any

from idsync.evaluate import MANAGER_KEY
from idsync.model import ActionKind
from idsync.plan import Plan
from idsync.state import Store, now
from idsync.state import schema as t

__all__ = ["apply"]

_CHUNK = 5000


def _reference(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def apply(store: Store, plan: Plan) -> dict[str, int]:
    """Record every action of ``plan`` as done; returns how many rows of each kind."""
    stamp = now()
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    permissions: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    for action in plan.actions():
        target, person = action.target, action.person or ""
        if action.kind is ActionKind.RESOURCE:
            resources.append(
                {
                    "target": target,
                    "key": action.key,
                    "reference": _reference(target, action.key or ""),
                    "created": stamp,
                }
            )
        elif action.kind is ActionKind.CREATE:
            data = dict(action.account)
            if data.get(MANAGER_KEY) is not None:
                data[MANAGER_KEY] = None  # as the enforcer stores it while the manager has none
            accounts[(target, person)] = {
                "target": target,
                "person": person,
                "reference": _reference(target, person),
                "data": data,
                "unique_base": action.unique_base or None,
                "enabled": False,
                "disabled_on": None,
                "created": stamp,
                "updated": stamp,
            }
        elif action.kind is ActionKind.ENABLE:
            accounts[(target, person)]["enabled"] = True
        elif action.kind is ActionKind.GRANT:
            permissions.append(
                {
                    "target": target,
                    "person": person,
                    "key": action.key,
                    "reference": _reference(target, action.key or ""),
                    "granted": stamp,
                }
            )
        else:
            raise ValueError(f"a first run has no {action.kind.value} actions")
    rows = list(accounts.values())
    with store.engine.begin() as conn:
        for table, items in ((t.accounts, rows), (t.permissions, permissions)):
            for i in range(0, len(items), _CHUNK):
                conn.execute(table.insert(), items[i : i + _CHUNK])
        if resources:
            conn.execute(t.resources.insert(), resources)
    return {"accounts": len(rows), "permissions": len(permissions), "resources": len(resources)}
