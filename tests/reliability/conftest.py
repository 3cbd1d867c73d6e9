"""Fixtures of the reliability tests: the state store on SQLite or on a throwaway PostgreSQL.

The PostgreSQL server is started once per test process (each xdist worker has its own) on the
first test that needs it; every test gets a fresh database. A server that cannot be installed
or started fails those tests with the reason: they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.pgserver import PostgresServer

BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for this test process."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state store's URL: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.database()
    return f"sqlite:///{tmp_path / 'state.db'}"
