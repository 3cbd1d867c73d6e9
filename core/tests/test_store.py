"""The state store on real SQLite files: migrations, shadows and audit, held work, the lock."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from idsync.secrets import MASK, register_secret
from idsync.state import LockHeld, Store
from idsync.state import schema as t

TABLES = {
    "blocked_actions",
    "checked_leavers",
    "intents",
    "schedules",
    "runs",
    "snapshots",
    "persons",
    "departments",
    "accounts",
    "permissions",
    "resources",
    "plans",
    "held",
    "audit",
    "locks",
    "exclusions",
    "users",
    "blocked",
}


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(_url(tmp_path / "state.db"))
    yield opened
    opened.close()


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("idsync.state") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _version(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
    finally:
        engine.dispose()


# --- migrations -----------------------------------------------------------------------


def test_a_new_file_is_created_and_migrated_to_head(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    path.parent.mkdir()
    assert not path.exists()
    store = Store(_url(path))
    store.close()
    assert path.exists()
    engine = sa.create_engine(_url(path))
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert names == TABLES | {"alembic_version"}
    assert _version(_url(path)) == [_head()]


def test_the_migrations_build_exactly_the_schema_the_code_uses(store: Store) -> None:
    """Alembic's autogenerate finds no difference between the migrated file and schema.py:
    a column added to the code without a migration fails here."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []


def test_reopening_is_a_no_op_and_keeps_the_data(tmp_path: Path) -> None:
    url = _url(tmp_path / "state.db")
    first = Store(url)
    run = first.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    first.close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ddl_before = conn.execute(
            sa.text("SELECT type, name, sql FROM sqlite_master ORDER BY name")
        ).all()
    engine.dispose()

    second = Store(url)
    try:
        assert [r["id"] for r in second.runs()] == [run]
        with second.engine.connect() as conn:
            ddl_after = conn.execute(
                sa.text("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            ).all()
    finally:
        second.close()
    assert ddl_after == ddl_before
    assert _version(url) == [_head()]


# --- runs and snapshots ---------------------------------------------------------------


def test_runs_are_recorded_newest_first(store: Store) -> None:
    one = store.start_run("nightly", "run", dt.date(2024, 5, 1), dry_run=True)
    two = store.start_run("other", "plan", dt.date(2024, 5, 2), dry_run=False)
    store.finish_run(one, "done", 0, {"done": {"create": 3}})
    runs = store.runs()
    assert [r["id"] for r in runs] == [two, one]
    finished = runs[1]
    assert finished["status"] == "done"
    assert finished["exit_code"] == 0
    assert finished["counts"] == {"done": {"create": 3}}
    assert finished["dry_run"] is True
    assert finished["as_of"] == dt.date(2024, 5, 1)
    assert finished["finished"] is not None
    assert [r["id"] for r in store.runs("other")] == [two]


def test_killed_enforcing_runs_of_the_pipeline_are_closed_as_crashed(store: Store) -> None:
    day = dt.date(2024, 5, 1)
    killed_run = store.start_run("nightly", "run", day, dry_run=False)
    killed_fix = store.start_run("nightly", "reconcile", day, dry_run=False)
    dry = store.start_run("nightly", "run", day, dry_run=True)
    other = store.start_run("other", "run", day, dry_run=False)
    assert store.close_abandoned_runs("nightly") == 2
    status = {r["id"]: r["status"] for r in store.runs()}
    assert status == {
        killed_run: "crashed",
        killed_fix: "crashed",
        dry: "running",  # a dry run takes no lock: it may be alive
        other: "running",
    }


def test_snapshots_replace_changed_and_drop_removed_persons(store: Store) -> None:
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    assert not store.has_snapshot("hr")
    store.accept_snapshot(
        "hr",
        run,
        {"1": ("h1", {"id": 1}), "2": ("h2", {"id": 2})},
        removed=[],
        departments={"ICT": {"name": "ICT"}},
        counts={"persons": 2, "added": 2},
    )
    store.accept_snapshot(
        "hr",
        run,
        {"2": ("h2b", {"id": 2, "v": 2})},
        removed=["1"],
        departments={"HR": {"name": "HR"}},
        counts={"persons": 1, "removed": 1, "changed": 1},
    )
    assert store.has_snapshot("hr")
    assert store.person_hashes("hr") == {"2": "h2b"}
    assert store.person_data("hr") == {"2": {"id": 2, "v": 2}}
    assert store.person_data("hr", ids=["2", "9"]) == {"2": {"id": 2, "v": 2}}
    assert store.persons_of("2") == {"hr": {"id": 2, "v": 2}}
    assert store.departments("hr") == {"HR": {"name": "HR"}}
    store.hold_snapshot("desk", run, {"persons": 5})
    assert not store.has_snapshot("desk")


# --- record(): audit and shadow together ----------------------------------------------


def _audit_kinds(store: Store) -> list[tuple[str, str]]:
    return [(r["kind"], r["status"]) for r in reversed(store.audit())]


def test_account_lifecycle_updates_the_shadow(store: Store) -> None:
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)

    def record(**kw: Any) -> None:
        store.record(run_id=run, target="hid", person="1001", **kw)

    record(
        kind="create",
        status="done",
        reference="u-1",
        changes={"userName": {"before": None, "after": "jan.jansen"}},
        account={
            "reference": "u-1",
            "data": {"userName": "jan.jansen"},
            "unique_base": {"userName": "jan.jansen"},
        },
    )
    shadow = store.accounts("hid")["1001"]
    assert (shadow.reference, shadow.data, shadow.enabled) == (
        "u-1",
        {"userName": "jan.jansen"},
        False,
    )
    assert shadow.unique_base == {"userName": "jan.jansen"}

    record(kind="enable", status="done", account={"enabled": True})
    assert store.accounts("hid")["1001"].enabled is True

    record(kind="grant", status="done", key="group:Sales", reference="g-1")
    record(kind="grant", status="done", key="group:ICT", reference="g-2")
    assert store.accounts("hid")["1001"].permissions == {"group:Sales": "g-1", "group:ICT": "g-2"}

    record(kind="revoke", status="done", key="group:Sales")
    assert store.accounts("hid")["1001"].permissions == {"group:ICT": "g-2"}

    record(kind="update", status="done", account={"data": {"userName": "jan.jansen2"}})
    assert store.accounts("hid")["1001"].data == {"userName": "jan.jansen2"}
    assert store.accounts("hid")["1001"].reference == "u-1"

    record(
        kind="disable",
        status="done",
        account={"enabled": False, "disabled_on": dt.date(2024, 2, 1)},
    )
    disabled = store.account("hid", "1001")
    assert disabled is not None
    assert (disabled.enabled, disabled.disabled_on) == (False, dt.date(2024, 2, 1))
    assert store.count_accounts("hid") == 1

    record(kind="delete", status="done", account={"delete": True})
    assert store.accounts("hid") == {}
    assert store.accounts_of("1001") == {}
    assert store.count_accounts("hid") == 0
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(t.permissions)).all() == []

    assert _audit_kinds(store) == [
        ("create", "done"),
        ("enable", "done"),
        ("grant", "done"),
        ("grant", "done"),
        ("revoke", "done"),
        ("update", "done"),
        ("disable", "done"),
        ("delete", "done"),
    ]
    create = store.audit(person="1001")[-1]
    assert create["changes"] == {"userName": {"before": None, "after": "jan.jansen"}}
    assert create["reference"] == "u-1"
    assert create["run_id"] == run


def test_failed_and_dry_run_actions_are_audited_but_change_no_shadow(store: Store) -> None:
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=True)
    store.record(
        run_id=run,
        target="hid",
        person="1",
        kind="create",
        status="failed",
        messages=["HTTP 500"],
        account={"reference": "u", "data": {}},
    )
    store.record(
        run_id=run,
        target="hid",
        person="1",
        kind="create",
        status="done",
        dry_run=True,
        account={"reference": "u", "data": {}},
    )
    store.record(
        run_id=run, target="hid", person="1", kind="grant", status="dry-run", key="group:A"
    )
    assert store.accounts("hid") == {}
    assert len(store.audit()) == 3
    assert store.audit()[-1]["messages"] == ["HTTP 500"]
    assert store.audit_counts(run) == {
        "failed": {"create": 1},
        "done": {"create": 1},
        "dry-run": {"grant": 1},
    }


def test_audit_and_shadow_are_written_in_one_transaction(store: Store) -> None:
    """A shadow write that fails takes its audit record with it: never one without the other."""
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    with pytest.raises(sa.exc.SQLAlchemyError):
        store.record(
            run_id=run,
            target="hid",
            person="1",
            kind="create",
            status="done",
            account={"reference": "u", "data": {}, "no_such_column": 1},
        )
    assert store.audit() == []
    assert store.accounts("hid") == {}


def test_audit_filters(store: Store) -> None:
    one = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    two = store.start_run("p", "run", dt.date(2024, 1, 2), dry_run=False)
    for run, target, person in [(one, "a", "1"), (one, "b", "2"), (two, "a", "2")]:
        store.record(run_id=run, target=target, person=person, kind="update", status="done")
    assert len(store.audit()) == 3
    assert [(r["run_id"], r["target"]) for r in store.audit(person="2")] == [(two, "a"), (one, "b")]
    assert len(store.audit(target="a")) == 2
    assert len(store.audit(run_id=one)) == 2
    assert len(store.audit(limit=1)) == 1


def test_secrets_never_reach_the_store(store: Store) -> None:
    secret = "st0re-s3cret-5d1e"
    register_secret(secret)
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    store.record(
        run_id=run,
        target="hid",
        person="1",
        kind="create",
        status="done",
        changes={"password": {"before": None, "after": secret}},
        messages=[f"server said: bad token {secret}"],
        account={"reference": "u", "data": {"password": secret}},
    )
    store.save_plan(run, {"note": secret})
    store.hold(
        run_id=run, pipeline="p", system="hid", kind="delete", reason="r", count=1, detail=[secret]
    )
    with store.engine.connect() as conn:
        dump = "\n".join(
            str(row) for table in t.metadata.sorted_tables for row in conn.execute(sa.select(table))
        )
    assert secret not in dump
    assert MASK in dump
    assert store.accounts("hid")["1"].data == {"password": MASK}


def test_unique_values_and_resources(store: Store) -> None:
    run = store.start_run("p", "run", dt.date(2024, 1, 1), dry_run=False)
    for person, name in [("1", "jan"), ("2", "piet"), ("3", ""), ("4", None)]:
        store.record(
            run_id=run,
            target="hid",
            person=person,
            kind="create",
            status="done",
            account={"reference": f"u{person}", "data": {"userName": name}},
        )
    store.record(
        run_id=run,
        target="other",
        person="5",
        kind="create",
        status="done",
        account={"reference": "x", "data": {"userName": "klaas"}},
    )
    assert store.unique_values("hid", "userName") == {"jan": "1", "piet": "2"}
    assert store.unique_values("hid", "mail") == {}

    store.record(
        run_id=run,
        target="hid",
        person=None,
        kind="resource",
        status="done",
        key="group:department_ICT",
        reference="g-1",
    )
    store.record(
        run_id=run,
        target="hid",
        person=None,
        kind="resource",
        status="done",
        key="group:department_ICT",
        reference="g-9",
    )
    store.record(
        run_id=run,
        target="hid",
        person=None,
        kind="resource",
        status="failed",
        key="group:department_HR",
    )
    assert store.resources("hid") == {"group:department_ICT": "g-9"}
    assert store.resources("other") == {}


# --- held work ------------------------------------------------------------------------


def test_hold_decide_and_supersede(store: Store) -> None:
    run = store.start_run("nightly", "run", dt.date(2024, 1, 1), dry_run=False)

    def hold(system: str, kind: str, pipeline: str = "nightly") -> int:
        return store.hold(
            run_id=run,
            pipeline=pipeline,
            system=system,
            kind=kind,
            reason=f"{kind} > 10",
            count=12,
            detail={"persons": ["1", "2"]},
        )

    first = hold("hid", "delete")
    second = hold("hid", "delete")
    disable = hold("hid", "disable")
    imported = hold("hr", "import")
    elsewhere = hold("hid", "delete", pipeline="other")

    held = store.held("nightly")
    assert [h["id"] for h in held] == [imported, disable, second, first]
    assert held[-1]["reason"] == "delete > 10"
    assert held[-1]["count"] == 12
    assert held[-1]["detail"] == {"persons": ["1", "2"]}
    assert held[-1]["decided"] is None

    store.decide_held(imported, "approved")
    approved = [h for h in store.held("nightly", status=None) if h["id"] == imported]
    assert approved[0]["status"] == "approved"
    assert approved[0]["decided"] is not None

    store.supersede_held("nightly", "hid", "delete")
    assert [h["id"] for h in store.held("nightly")] == [disable]
    statuses = {h["id"]: h["status"] for h in store.held(status=None)}
    assert statuses == {
        first: "superseded",
        second: "superseded",
        disable: "held",
        imported: "approved",
        elsewhere: "held",
    }


# --- the lock -------------------------------------------------------------------------


def test_a_second_acquire_raises_lock_held_until_released(store: Store) -> None:
    owner = store.acquire_lock("pipeline:nightly")
    assert store.lock_owner("pipeline:nightly") == owner
    with pytest.raises(LockHeld):
        store.acquire_lock("pipeline:nightly")
    other = store.acquire_lock("pipeline:other")
    assert other == owner  # the same process and thread; a different lock
    store.release_lock("pipeline:nightly", "someone-else")
    assert store.lock_owner("pipeline:nightly") == owner
    store.release_lock("pipeline:nightly", owner)
    assert store.lock_owner("pipeline:nightly") is None
    assert store.acquire_lock("pipeline:nightly") == owner


def test_an_expired_lock_is_taken_over(store: Store) -> None:
    store.acquire_lock("pipeline:p", ttl=dt.timedelta(seconds=-1))
    owner = store.acquire_lock("pipeline:p")
    assert store.lock_owner("pipeline:p") == owner


def test_a_lock_of_another_host_is_respected(store: Store) -> None:
    stamp = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        conn.execute(
            t.locks.insert().values(
                name="pipeline:p",
                owner="elsewhere.example:1:1",
                acquired=stamp,
                expires=stamp + dt.timedelta(hours=1),
            )
        )
    with pytest.raises(LockHeld):
        store.acquire_lock("pipeline:p")


HOLDER = textwrap.dedent(
    """
    import sys
    from idsync.state import Store

    store = Store(sys.argv[1])
    print(store.acquire_lock("pipeline:nightly"), flush=True)
    sys.stdin.read()  # hold the lock until told to go, then exit without releasing it
    """
)


def test_a_lock_of_a_live_process_holds_and_of_a_dead_one_is_taken_over(
    tmp_path: Path, store: Store
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        their_owner = holder.stdout.readline().strip()
        assert their_owner.split(":")[1] == str(holder.pid)
        assert store.lock_owner("pipeline:nightly") == their_owner
        with pytest.raises(LockHeld):
            store.acquire_lock("pipeline:nightly")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert store.lock_owner("pipeline:nightly") == their_owner  # never released
    mine = store.acquire_lock("pipeline:nightly")
    assert mine != their_owner
    assert store.lock_owner("pipeline:nightly") == mine
