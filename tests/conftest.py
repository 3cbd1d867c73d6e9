"""Fixtures for whole pipelines over the vendor simulators on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from idsync.sandbox.simulator import serve
from idsync_afas.simulator import MOUNT as AFAS_MOUNT
from idsync_afas.simulator import AfasSimulator, from_world
from idsync_helloid.simulator import HelloIDStore, simulate
from support import AFAS_TOKEN, HELLOID_KEY, HELLOID_SECRET, Org, organisation


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    """AFAS and HelloID simulators seeded with :func:`organisation`, and a pipeline over them."""
    world = organisation()
    afas = AfasSimulator(from_world(world), AFAS_TOKEN)
    store = HelloIDStore(seed=3)
    store.create_group({"name": "ICT Admins", "isEnabled": True})
    store.create_group({"name": "department_SALES", "isEnabled": True})
    store.add_product("Laptop", "LAPTOP")
    store.add_product("Parking permit", "PARKING")
    existing = store.create_user(
        {
            "userName": "j.devries@example.org",
            "firstName": "Jan",
            "lastName": "Vries",
            "isEnabled": True,
            "source": "Local",
        }
    )
    store.add_member(existing["userGUID"], "department_SALES")
    sim = simulate(store, api_key=HELLOID_KEY, api_secret=HELLOID_SECRET)
    with serve(afas.app) as afas_server, serve(sim) as helloid_server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "HELLOID_"))},
            "AFAS_BASE_URL": afas_server.url + AFAS_MOUNT,
            "AFAS_TOKEN": AFAS_TOKEN,
            "HELLOID_BASE_URL": helloid_server.url + "/api/v1",
            "HELLOID_API_KEY": HELLOID_KEY,
            "HELLOID_API_SECRET": HELLOID_SECRET,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        result = Org(
            world=world,
            afas=afas,
            helloid=store,
            helloid_sim=sim,
            afas_server=afas_server,
            helloid_server=helloid_server,
            pipeline=tmp_path / "pipeline.yaml",
            db=tmp_path / "state.db",
            env=env,
        )
        result.write_pipeline()
        yield result
