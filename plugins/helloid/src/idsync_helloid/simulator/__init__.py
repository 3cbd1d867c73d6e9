"""A simulated HelloID API (extra ``[sandbox]``) for tests, demos and plugin development.

It answers ``/api/v1/...`` like a HelloID tenant: Basic auth of key and secret (401 otherwise),
``skip``/``take`` paging, users by GUID or name (404 ``{"message": "User not found"}``; a
soft-deleted user is found with ``isDeleted: true``), 409 on a duplicate user name, ``PUT`` as a
full replacement of the user, soft-deleted users (``?isDeleted=true``, restored with
``isSoftDeleted: false``), groups with members, self-service products and their assignments. Wrapped in :class:`idsync.sandbox.simulator.Simulated`,
it logs every request and injects latency, errors, 429s and dropped connections on demand.

Start it on its own with ``python -m idsync_helloid.simulator --port P --api-key K --api-secret S``.
"""

from __future__ import annotations

import random
import string

from idsync.sandbox.simulator import Faults, SandboxApp, Simulated
from idsync.sandbox.world import World

from idsync_helloid.simulator._app import API_ROOT, create_app
from idsync_helloid.simulator._seed import (
    PRODUCTS,
    STATIC_GROUPS,
    department_group,
    seed_world,
    user_name,
)
from idsync_helloid.simulator._store import HelloIDStore, SimError

__all__ = [
    "API_ROOT",
    "PRODUCTS",
    "STATIC_GROUPS",
    "HelloIDStore",
    "SimError",
    "create_app",
    "department_group",
    "sandbox",
    "seed_world",
    "simulate",
    "user_name",
]


def simulate(
    store: HelloIDStore | None = None,
    *,
    api_key: str,
    api_secret: str,
    faults: Faults | None = None,
) -> Simulated:
    """The simulator over ``store`` (a new, empty one by default), with log and faults."""
    return Simulated(create_app(store or HelloIDStore(), api_key, api_secret), faults)


def sandbox(world: World) -> SandboxApp:
    """The simulator as ``idsync sandbox`` serves it: seeded from ``world``, with credentials."""
    rng = random.Random(f"helloid-credentials:{world.seed}")
    api_key = "".join(rng.choices(string.ascii_uppercase, k=32))
    api_secret = "".join(rng.choices(string.ascii_letters, k=32))
    store = HelloIDStore(seed=world.seed)
    seed_world(store, world)
    active = sum(not u["isDeleted"] for u in store.users.values())
    return SandboxApp(
        name="helloid",
        app=simulate(store, api_key=api_key, api_secret=api_secret),
        env={
            "HELLOID_BASE_URL": "{url}",
            "HELLOID_API_KEY": api_key,
            "HELLOID_API_SECRET": api_secret,
        },
        mount=API_ROOT,
        summary=(
            f"HelloID: {active} users, {len(store.groups)} groups, "
            f"{len(store.products)} self-service products"
        ),
        data=store,
    )
