"""A database password with any character reaches the driver intact, and is never shown.

The role below must give its password (scram-sha-256) to a real PostgreSQL server; the
password holds every character that breaks a URL written by hand (``@ : / % # ?``). Given
through ``${IDSYNC_DB_PASSWORD}`` inside the ``state`` URL, or as a whole URL in one variable,
idsync opens the store with it; a wrong one is refused by the server, and neither appears in
any output.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from reliability.pgserver import PostgresServer, password_role
from support import ROOT, Org

pytestmark = pytest.mark.postgres

PASSWORD = "p@ss:w/rd%40#?x=1&y"


@pytest.fixture
def role(postgres: PostgresServer) -> tuple[str, str]:
    """A fresh database owned by a role that needs PASSWORD: (role, database)."""
    database = postgres.database().rsplit("/", 1)[1]
    name = f"pw_{uuid.uuid4().hex[:8]}"
    password_role(postgres, name, PASSWORD, database)
    return name, database


def _pipeline(org: Org, state: str) -> Path:
    text = (ROOT.parent / "examples" / "afas-helloid.yaml").read_text(encoding="utf-8")
    path = org.pipeline.with_name("pg.yaml")
    path.write_text(text.replace("state: sqlite:///idsync.db", f"state: {state}"), encoding="utf-8")
    return path


@pytest.mark.parametrize("form", ["reference inside the URL", "whole URL in a variable"])
def test_a_password_with_any_character_opens_the_store(
    org: Org, postgres: PostgresServer, role: tuple[str, str], form: str
) -> None:
    name, database = role
    where = f"127.0.0.1:{postgres.port}/{database}"
    if form == "reference inside the URL":
        path = _pipeline(org, f"postgresql+psycopg://{name}:${{IDSYNC_DB_PASSWORD}}@{where}")
        org.env["IDSYNC_DB_PASSWORD"] = PASSWORD
    else:
        path = _pipeline(org, "${IDSYNC_STATE}")
        org.env["IDSYNC_STATE"] = f"postgresql+psycopg://{name}:{PASSWORD}@{where}"
    first = org.json("run", str(path), check=None)
    assert first["state_created"] is True, first
    assert first["exit_code"] in (0, 1)  # the example's sources: what matters is the store
    check = org.idsync("check", "--connect", str(path), check=None)
    [state] = [line for line in check.stdout.splitlines() if line.startswith("  ok state: ")]
    assert f"postgresql+psycopg://{name}:***@{where}" in state
    assert "reachable, whole, migrated" in state
    for output in (check.stdout + check.stderr, str(first)):
        assert PASSWORD not in output
        assert "ss:w/rd" not in output  # no piece of it taken for a host or a path


def test_a_wrong_password_is_refused_by_the_server_and_not_shown(
    org: Org, postgres: PostgresServer, role: tuple[str, str]
) -> None:
    name, database = role
    wrong = "p@ss:w/rd%40#?x=2&y"
    path = _pipeline(
        org,
        f"postgresql+psycopg://{name}:${{IDSYNC_DB_PASSWORD}}@127.0.0.1:{postgres.port}/{database}",
    )
    org.env["IDSYNC_DB_PASSWORD"] = wrong
    refused = org.idsync("audit", str(path), check=2)
    assert "password authentication failed" in refused.stderr
    assert f"postgresql+psycopg://{name}:***@" in refused.stderr
    assert wrong not in refused.stderr
    assert "ss:w/rd" not in refused.stderr
