"""The console's users through ``idsync users``, its sign-in throttle, and what ``idsync serve``
says when the console is not installed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from idsync.console import authenticate
from idsync.console.security import LoginThrottle
from idsync.state import Store
from idsync.state import schema as t
from typer.testing import Result

PIPELINE = """\
name: console
state: sqlite:///{db}
sources:
  hr:
    plugin: afas
    settings: {{base_url: "https://12345.rest.afas.online/profitrestservices/", token: "${{AFAS_TOKEN}}"}}
targets:
  helloid:
    plugin: helloid
    settings: {{base_url: "https://x.helloid.com", api_key: "${{K}}", api_secret: "${{S}}"}}
    account:
      mapping: {{userName: "{{{{ person.external_id }}}}"}}
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(db=tmp_path / "state.db"), encoding="utf-8")
    return path


def _store(pipeline: Path) -> Store:
    return Store(f"sqlite:///{pipeline.parent / 'state.db'}")


def test_users_are_added_with_a_hashed_password_listed_and_removed(
    cli: Callable[..., Result], pipeline: Path
) -> None:
    p = str(pipeline)
    added = cli("users", "add", p, "alice", "--role", "approver", "--password-stdin")
    assert added.exit_code == 2  # no password on standard input: too short
    assert "at least 10 characters" in added.output

    from idsync.cli import app
    from typer.testing import CliRunner

    runner = CliRunner()
    done = runner.invoke(
        app, ["users", "add", p, "alice", "--role", "approver", "--password-stdin"],
        input="a long enough secret\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "added alice (approver)" in done.output
    again = runner.invoke(app, ["users", "add", p, "alice", "--password-stdin"], input="x" * 12)
    assert again.exit_code == 2
    assert "exists; --replace" in again.output
    wrong = runner.invoke(app, ["users", "add", p, "bob", "--role", "admin", "--password-stdin"])
    assert "role 'admin' is not one of viewer, approver" in wrong.output

    store = _store(pipeline)
    try:
        [row] = store.users()
        assert row["password"].startswith("$argon2id$")
        assert "a long enough secret" not in row["password"]
        assert authenticate(store, "alice", "a long enough secret") is not None
        assert authenticate(store, "alice", "a wrong secret") is None
        assert authenticate(store, "nobody", "a long enough secret") is None
    finally:
        store.close()

    listed = runner.invoke(app, ["users", "list", p, "--json"])
    assert '"role": "approver"' in listed.output
    assert "argon2" not in listed.output
    assert runner.invoke(app, ["users", "remove", p, "alice"]).exit_code == 0
    missing = runner.invoke(app, ["users", "remove", p, "alice"])
    assert missing.exit_code == 2
    assert "no user named 'alice'" in missing.output


def test_the_throttle_refuses_after_repeated_failures_and_forgets_them_in_time() -> None:
    clock = [1000.0]
    throttle = LoginThrottle(per_name=3, per_address=5, window=60, clock=lambda: clock[0])
    for _ in range(3):
        assert throttle.wait("Alice", "10.0.0.1") == 0
        throttle.failed("alice", "10.0.0.1")
        clock[0] += 1
    assert throttle.wait("ALICE", "10.0.0.9") == pytest.approx(57)  # the name, any address
    assert throttle.wait("bob", "10.0.0.1") == 0
    throttle.failed("bob", "10.0.0.1")
    throttle.failed("carol", "10.0.0.1")
    assert throttle.wait("dave", "10.0.0.1") > 0  # the address, any name
    clock[0] += 60
    assert throttle.wait("alice", "10.0.0.1") == 0
    throttle.failed("erin", "10.0.0.2")
    throttle.succeeded("erin")
    assert throttle.wait("erin", "10.0.0.2") == 0


def test_serve_and_users_name_the_extra_when_the_console_is_missing(
    cli: Callable[..., Result], pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "idsync.console", None)  # as when it cannot be imported
    for args in (("serve", str(pipeline)), ("users", "list", str(pipeline))):
        result = cli(*args)
        assert result.exit_code == 2
        assert "pip install 'idsync[console]'" in result.output


def test_the_migration_gives_stored_persons_their_folded_name(tmp_path: Path) -> None:
    from importlib.resources import files

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(files("idsync.state") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0002")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO persons (source, external_id, hash, data, updated) "
                "VALUES ('hr', '1', 'h', :data, '2026-01-01 00:00:00')"
            ),
            {"data": '{"display_name": "Çelik Özdemir"}'},
        )
    engine.dispose()
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            folded = conn.execute(sa.select(t.persons.c.folded_name)).scalar_one()
        assert folded == "celik ozdemir"
    finally:
        store.close()
