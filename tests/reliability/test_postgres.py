"""The whole pipeline on PostgreSQL: the lifecycle scenarios of tests/test_lifecycle.py run
again with the state in a throwaway PostgreSQL database (the reliability tests around this
file run on both state stores by themselves)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from reliability.harness import StatefulOrg, on_state
from reliability.pgserver import PostgresServer
from support import Org
from test_lifecycle import (
    test_a_source_that_loses_people_is_held_whole,
    test_a_threshold_holds_its_persons_whole_and_approval_releases_them,
    test_first_run_creates_correlates_grants_and_writes_back,
    test_joiner_mover_leaver_over_time,
)

pytestmark = pytest.mark.postgres

__all__ = [  # collected here again, with ``org`` keeping its state in PostgreSQL
    "test_a_source_that_loses_people_is_held_whole",
    "test_a_threshold_holds_its_persons_whole_and_approval_releases_them",
    "test_first_run_creates_correlates_grants_and_writes_back",
    "test_joiner_mover_leaver_over_time",
]


@pytest.fixture
def org(org: Org, postgres: PostgresServer) -> Iterator[StatefulOrg]:
    """The organisation of tests/conftest.py, its state in a fresh PostgreSQL database."""
    moved = on_state(org, postgres.database())
    yield moved
    # The scenario really ran on PostgreSQL: no SQLite file, and runs in the database.
    assert not moved.db.exists()
    engine = sa.create_engine(moved.state)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one()
    finally:
        engine.dispose()
    assert runs > 0
