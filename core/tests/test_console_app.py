"""The console application over a real SQLite state store, served on 127.0.0.1 and asked
over HTTP (no browser): cookies and headers, the trusted proxy header, searches, the audit trail's text
search a window at a time, and the CSV export. The browser tests (tests/test_console.py) cover
signing in, approving and the roles end to end. Also: ``idsync users``, the sign-in
throttle, what ``idsync serve`` says without the console installed, and the migration."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from idsync.console import (
    ConsoleSettings,
    add_user,
    authenticate,
    create_app,
    load_pipelines,
    queries,
)
from idsync.console.security import LoginThrottle
from idsync.plugins import Registry
from idsync.sandbox.simulator import serve
from idsync.state import Store
from idsync.state import schema as t
from typer.testing import Result

PIPELINE = """\
name: desk
state: sqlite:///{db}
sources:
  hr:
    plugin: afas
    settings: {{base_url: "https://1.rest.afas.online/profitrestservices/", token: "${{AFAS_TOKEN}}"}}
targets:
  helloid:
    plugin: helloid
    settings: {{base_url: "https://x.helloid.com", api_key: "${{K}}", api_secret: "${{S}}"}}
    account:
      mapping: {{userName: "{{{{ person.external_id }}}}"}}
"""
PASSWORD = "a password long enough"


def _person(pid: str, name: str) -> dict[str, object]:
    return {"external_id": pid, "display_name": name, "name": {"family": name}, "contracts": []}


@pytest.fixture
def state(tmp_path: Path, registry: Registry) -> Iterator[tuple[Path, Store]]:
    """A pipeline file and its store: two persons with accounts, and a long audit trail."""
    db = tmp_path / "state.db"
    path = tmp_path / "desk.yaml"
    path.write_text(PIPELINE.format(db=db), encoding="utf-8")
    store = Store(f"sqlite:///{db}")
    run = store.start_run("desk", "run", dt.date(2026, 3, 1), False)
    people = {"1": _person("1", "Çelik Özdemir"), "2": _person("2", "Jan de Vries")}
    store.accept_snapshot("hr", run, {k: ("h" + k, v) for k, v in people.items()}, [], {}, {})
    for pid, user in (("1", "c.ozdemir@example.org"), ("2", "j.devries@example.org")):
        store.record(
            run_id=run,
            target="helloid",
            person=pid,
            kind="create",
            status="done",
            account={"reference": f"ref-{pid}", "data": {"userName": user, "lastName": "X"}},
        )
    for n in range(300):
        store.record(
            run_id=run,
            target="helloid",
            person="2",
            kind="grant",
            status="done",
            key=f"group:g{n}",
            messages=["=HYPERLINK(evil)" if n == 5 else f"added to g{n}"],
        )
    store.finish_run(run, "done", 0, {"done": {"grant": 300, "create": 2}})
    add_user(store, "alice", PASSWORD, "approver")
    yield path, store
    store.close()


@contextmanager
def _client(path: Path, registry: Registry, **settings: object) -> Iterator[httpx.Client]:
    loaded = load_pipelines([path], registry)
    app = create_app(loaded, registry, ConsoleSettings(**settings))  # type: ignore[arg-type]
    with serve(app) as server, httpx.Client(base_url=server.url) as client:
        yield client


def _sign_in(client: httpx.Client) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    answer = client.post(
        "/login",
        data={"csrf": token.group(1), "name": "alice", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_cookies_and_headers_keep_the_pages_to_themselves(
    state: tuple[Path, Store], registry: Registry
) -> None:
    path, _ = state
    with _client(path, registry, secure_cookies=True) as client:
        page = client.get("/login")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" in cookie
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "read-only" not in page.text  # no pipeline is shown before signing in
    with _client(path, registry) as client:
        assert "secure" not in client.get("/login").headers["set-cookie"].lower()
        away = client.get("/p/desk/audit", follow_redirects=False)
        assert away.status_code == 303
        assert away.headers["location"] == "/login?next=%2Fp%2Fdesk%2Faudit"
        _sign_in(client)
        overview = client.get("/")
        assert "Read-only: the settings of desk could not be loaded" not in overview.text
        audit = client.get("/p/desk/audit")
        assert "Read-only" in audit.text  # secrets missing: nothing reaches the systems
        refused = client.post("/p/desk/plan", data={"csrf": _token(audit.text)})
        assert refused.status_code == 409
        evil = client.get("/login?next=//elsewhere.example", follow_redirects=False)
        assert 'name="next" value="/"' in evil.text


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_a_trusted_proxy_names_the_user_and_nobody_else_can(
    state: tuple[Path, Store], registry: Registry
) -> None:
    path, _ = state
    settings = {"trust_header": "X-Remote-User", "trusted_proxies": ("127.0.0.1",)}
    with _client(path, registry, **settings) as client:
        page = client.get("/", headers={"X-Remote-User": "alice"})
        assert page.status_code == 200
        assert "alice" in page.text
        stranger = client.get("/", headers={"X-Remote-User": "mallory"})
        assert stranger.status_code == 403
        assert "mallory" in stranger.text
        assert "is not a user of this console" in stranger.text
    with _client(path, registry, trust_header="X-Remote-User") as client:  # no trusted proxy
        answer = client.get("/", headers={"X-Remote-User": "alice"}, follow_redirects=False)
        assert answer.status_code == 303  # the header is not believed: sign in first


def test_persons_are_found_by_id_name_without_diacritics_and_user_name(
    state: tuple[Path, Store],
) -> None:
    _, store = state
    assert [p["id"] for p in queries.search_persons(store, "ozdemir")] == ["1"]
    assert [p["name"] for p in queries.search_persons(store, "CELIK")] == ["Çelik Özdemir"]
    assert [p["id"] for p in queries.search_persons(store, "de vries")] == ["2"]
    [by_user] = queries.search_persons(store, "j.devries@")
    assert (by_user["id"], by_user["matched"]) == ("2", ["account in helloid"])
    assert [p["id"] for p in queries.search_persons(store, "1")] == ["1"]
    assert queries.search_persons(store, "100%") == []  # a wildcard is a character


def test_text_search_reads_a_window_at_a_time_and_finds_what_is_older(
    state: tuple[Path, Store],
) -> None:
    _, store = state
    wanted = queries.AuditFilter(q="group:g1")  # g1, g10…g19, g100…g199: 111 records
    seen: list[int] = []
    page = queries.audit_page(store, "desk", wanted, window=40, limit=25)
    windows = 1
    while True:
        seen += [r["id"] for r in page.rows]
        assert page.searched is not None
        assert page.searched[1] - page.searched[0] < 40
        if page.next is None:
            break
        page = queries.audit_page(store, "desk", wanted, before=int(page.next), window=40)
        windows += 1
    keys = [
        r["key"] for r in queries.audit_page(store, "desk", wanted, window=None, limit=500).rows
    ]
    assert len(seen) == len(keys) == 111
    assert seen == sorted(seen, reverse=True)
    assert windows > 3


def test_the_csv_export_has_every_match_and_defuses_formulas(
    state: tuple[Path, Store], registry: Registry
) -> None:
    path, _ = state
    with _client(path, registry) as client:
        _sign_in(client)
        answer = client.get("/p/desk/audit.csv?person=2&kind=grant")
        assert answer.headers["content-disposition"].startswith('attachment; filename="audit-desk')
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == 300
        [evil] = [r for r in rows if "HYPERLINK" in r["messages"]]
        assert not evil["messages"].startswith("=")
        assert client.get("/p/desk/audit.csv?since=yesterday").status_code == 400
        assert client.get("/p/nothing/audit").status_code == 404


# --- users, the sign-in throttle, the missing extra, the migration ----------------------------


def test_users_are_added_with_a_hashed_password_listed_and_removed(
    cli: Callable[..., Result], state: tuple[Path, Store]
) -> None:
    pipeline, store = state
    store.remove_user("alice")
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

    [row] = store.users()
    assert row["password"].startswith("$argon2id$")
    assert "a long enough secret" not in row["password"]
    assert authenticate(store, "alice", "a long enough secret") is not None
    assert authenticate(store, "alice", "a wrong secret") is None
    assert authenticate(store, "nobody", "a long enough secret") is None

    listed = runner.invoke(app, ["users", "list", p, "--json"])
    document = json.loads(listed.output)
    assert document["schema_version"] == 1
    [user] = document["users"]
    assert (user["name"], user["role"]) == ("alice", "approver")
    assert dt.datetime.fromisoformat(user["created"]).utcoffset() is not None
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
    cli: Callable[..., Result], state: tuple[Path, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = state
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
    command.upgrade(cfg, "0003")
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
