"""The web console on PostgreSQL: the browser test of an approval (tests/test_console.py) again,
with the state in a throwaway PostgreSQL database, so every query of its pages runs there too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability.harness import StatefulOrg, on_state
from reliability.pgserver import PostgresServer
from support import Org
from test_console import (
    browser,
    console,
    playwright,
    test_an_approver_reviews_and_approves_held_work_and_is_in_the_audit_trail,
)

pytestmark = pytest.mark.postgres

__all__ = [  # collected here again, with ``org`` keeping its state in PostgreSQL
    "browser",
    "console",
    "playwright",
    "test_an_approver_reviews_and_approves_held_work_and_is_in_the_audit_trail",
]


@pytest.fixture
def org(org: Org, postgres: PostgresServer) -> Iterator[StatefulOrg]:
    """The organisation of tests/conftest.py, its state in a fresh PostgreSQL database."""
    moved = on_state(org, postgres.database())
    yield moved
    assert not moved.db.exists()  # the console read and wrote PostgreSQL, not a file
