"""Many pipelines in one PostgreSQL database, each in a schema of its own (``state: {url,
per_pipeline: true}``): two organisations with the same target names and the same person ids
never see or touch each other's accounts, leases, runs or journal, and a store that was there
before (the database's ``public`` schema) is left as it was."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from idsync.config import ConfigError, load_pipeline
from idsync.engine import Engine
from idsync.plugins import Registry
from idsync.sandbox import Sandbox
from idsync.state import LockHeld, Store
from idsync.state import schema as t
from idsync.state.integrity import probe
from idsync.state.location import StateLocation, StoreMissing
from idsync.state.shared import in_schema, pipeline_schema
from idsync_afas.plugin import AfasPlugin
from idsync_helloid.plugin import HelloIDPlugin
from reliability.fleet_pipeline import pipeline_text
from reliability.pgserver import PostgresServer
from support import IDSYNC

PERSONS = 40


SHARED = '{url: "${IDSYNC_SHARED}", per_pipeline: true}'


class Org:
    """One organisation: its simulators (the same seed for all: the same person ids) and
    its pipeline file."""

    def __init__(self, tmp: Path, name: str, state: str, database: str) -> None:
        self.name = name
        self.sandbox = Sandbox(size=PERSONS, seed=7, plugins=[AfasPlugin(), HelloIDPlugin()])
        self.sandbox.start()
        self.path = tmp / f"{name}.yaml"
        self.path.write_text(pipeline_text(name, state))
        self.env = {**self.sandbox.env, "IDSYNC_SHARED": database}

    @property
    def helloid(self) -> Any:
        return self.sandbox.apps["helloid"].data

    def engine(self) -> Engine:
        registry = Registry()
        return Engine(load_pipeline(self.path, registry, env=self.env), registry)

    def run(self) -> Any:
        engine = self.engine()
        try:
            report = engine.run()
        finally:
            engine.close()
        assert report.error is None, report.error
        return report

    def creates(self) -> int:
        writes = self.sandbox.apps["helloid"].app.log.writes()
        return sum(1 for r in writes if r.method == "POST" and r.path.endswith("/users"))

    def guids(self) -> set[str]:
        return {u["userGUID"] for u in self.helloid.users.values()}


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    return postgres.database()


@pytest.fixture
def orgs(tmp_path: Path, database: str) -> Iterator[dict[str, Org]]:
    made: dict[str, Org] = {}
    try:
        for name, state in (("acme", SHARED), ("globex", SHARED), ("legacy", database)):
            made[name] = Org(tmp_path, name, state, database)
        yield made
    finally:
        for org in made.values():
            org.sandbox.stop()


def _rows(store: Store, table: sa.Table, *columns: str) -> set[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(*(table.c[c] for c in columns)))}


def _schemas(database: str) -> set[str]:
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("SELECT nspname FROM pg_namespace"))}
    finally:
        engine.dispose()


pytestmark = pytest.mark.postgres


def test_two_pipelines_share_one_database_and_never_see_each_other(
    orgs: dict[str, Org], database: str
) -> None:
    acme, globex, legacy = orgs["acme"], orgs["globex"], orgs["legacy"]
    # A store that was there before, in the database's public schema, as written until now.
    legacy.run()
    legacy_store = Store(database)
    legacy_accounts = _rows(legacy_store, t.accounts, "target", "person", "reference")
    assert legacy_accounts

    engine = acme.engine()
    assert engine.store.location.schema == "idsync_acme"
    assert engine.store.created  # a new store: made and migrated on first use
    engine.close()
    acme.run()
    globex.run()
    assert {"idsync_acme", "idsync_globex"} <= _schemas(database)

    stores = {name: Store(org.engine().pipeline.state) for name, org in orgs.items()}
    assert stores["globex"].location.display.endswith("(schema idsync_globex)")
    # The same persons and target names, and yet each run created the accounts in its own
    # HelloID as a lone one does: neither found the other's accounts in its store.
    persons = {name: _rows(s, t.accounts, "target", "person") for name, s in stores.items()}
    assert persons["acme"] == persons["globex"] == persons["legacy"]
    assert acme.creates() == globex.creates() == legacy.creates() > 0
    for name, org in orgs.items():
        references = {r[0] for r in _rows(stores[name], t.accounts, "reference")}
        assert references <= org.guids(), name  # its own HelloID's accounts, nobody else's
        journal = {r[0] for r in _rows(stores[name], t.intents, "reference") if r[0]}
        assert journal, name
        assert journal <= org.guids(), name
        assert _rows(stores[name], t.runs, "pipeline") == {(name,)}
        assert _rows(stores[name], t.locks, "name") == {(f"pipeline:{name}",)}
    # Each first run did what a lone one does, action for action.
    first = {name: stores[name].audit_counts(1) for name in orgs}
    assert first["acme"] == first["globex"] == first["legacy"]
    assert first["acme"]["done"]["create"] > 0
    # The store that was there is as it was.
    assert _rows(legacy_store, t.accounts, "target", "person", "reference") == legacy_accounts

    # One pipeline's lease is its own: held, it stops a second runner of acme, not globex.
    owner = stores["acme"].acquire_lock("pipeline:acme")
    try:
        with pytest.raises(LockHeld):
            acme.run()
        report = globex.run()
        assert report.exit_code == 0
    finally:
        stores["acme"].release_lock("pipeline:acme", owner)
    for store in (*stores.values(), legacy_store):
        store.close()


def test_a_reading_command_creates_no_schema(tmp_path: Path, database: str) -> None:
    """A pipeline that never ran has no store: reading says so and makes nothing."""
    url = in_schema(database, pipeline_schema("initech"))
    with pytest.raises(StoreMissing, match="no schema idsync_initech"):
        Store(url, create=False)
    found, said = probe(StateLocation.parse(url))  # idsync check --connect
    assert found is None
    assert said.endswith("(schema idsync_initech) does not exist yet: the first run creates it")
    assert "idsync_initech" not in _schemas(database)
    store = Store(url)  # a run makes it
    assert store.created
    assert store.revision() == store.head()
    store.close()
    assert probe(StateLocation.parse(url))[0] is True
    again = Store(url, create=False)
    assert not again.created
    again.close()


@pytest.mark.parametrize(
    ("state", "where", "message"),
    [
        ('{url: "sqlite:///x.db", per_pipeline: true}', "state.url", "needs PostgreSQL"),
        ("{per_pipeline: true}", "state.url", "URL is required"),
        ('{url: "${IDSYNC_SHARED}", per_pipeline: yes please}', "state.per_pipeline", "true"),
        ('{url: "${IDSYNC_SHARED}", schema: "Acme Corp"}', "state.schema", "plain schema name"),
        ('{url: "${IDSYNC_SHARED}", schema: a, per_pipeline: true}', "state.schema", "not both"),
        ('{url: "${IDSYNC_SHARED}", per_pipline: true}', "state.per_pipline", "unknown key"),
        (
            '{url: "${IDSYNC_SHARED}?options=-csearch_path%3Dx", per_pipeline: true}',
            "state.url",
            "search_path already",
        ),
        (
            '{url: "postgresql+psycopg://idsync:secret@db/idsync", per_pipeline: true}',
            "state",
            "a password must come from the environment",
        ),
    ],
)
def test_a_shared_state_that_cannot_work_is_an_error_naming_the_key(
    tmp_path: Path, state: str, where: str, message: str
) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(pipeline_text("acme", state))
    env = {**os.environ, "IDSYNC_SHARED": "postgresql+psycopg://idsync@127.0.0.1/idsync"}
    with pytest.raises(ConfigError) as caught:
        load_pipeline(path, Registry(), env=env, offline=True)
    assert any(w == where and message in m for w, m in caught.value.errors), caught.value.errors


def test_a_pipeline_name_that_is_no_plain_schema_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Acme-Prod.yaml"  # no name: the file's stem would be the schema
    path.write_text(pipeline_text(None, SHARED))
    env = {"IDSYNC_SHARED": "postgresql+psycopg://idsync@127.0.0.1/idsync"}
    with pytest.raises(ConfigError) as caught:
        load_pipeline(path, Registry(), env=env, offline=True)
    assert [w for w, m in caught.value.errors if "'Acme-Prod' is not a plain name" in m] == [
        "state.per_pipeline"
    ]
    named = path.with_name("acme_prod.yaml")
    named.write_text(pipeline_text("acme_prod", SHARED))
    pipeline = load_pipeline(named, Registry(), env=env, offline=True)
    location = StateLocation.parse(pipeline.state)
    assert location.schema == "idsync_acme_prod"
    assert (
        location.display == "postgresql+psycopg://idsync@127.0.0.1/idsync (schema idsync_acme_prod)"
    )


def test_the_fleet_warns_of_a_pipeline_in_its_own_schema(tmp_path: Path, database: str) -> None:
    """One pipeline keeping its state in the fleet's schema works (as it did); a second
    would mix their accounts, so ``schedule add`` says so. One in a schema of its own is
    added without a word."""
    env = {**os.environ, "IDSYNC_FLEET": database, "IDSYNC_SHARED": database}
    said = {}
    for name, state in (("plain", database), ("apart", SHARED)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(pipeline_text(name, state))
        added = subprocess.run(
            [str(IDSYNC), "schedule", "add", str(path), "--every", "1h"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        said[name] = added.stderr
    assert "plain keeps its state in the fleet's own schema" in said["plain"]
    assert "warning" not in said["apart"]
