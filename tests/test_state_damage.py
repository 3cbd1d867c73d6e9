"""A state store that protects its history: damage is a clear error, never a fresh start.

Each case takes the store a real run left behind, damages it as disks, people and scripts do,
and runs the pipeline again: exit 2, a message naming the store and what is wrong, the file as
it was, and not one request to any system (a run that forgot its accounts would create them
all again). Commands that only read refuse the same way, and never create a store.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Org

JOINED, MOVED = "2026-01-20", "2026-02-02"


def _vacuumed(db: Path) -> None:
    """Compact the file, so its last page holds rows (not a free page)."""
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM")
    conn.close()


def _empty(db: Path) -> None:
    db.write_bytes(b"")


def _truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _garbled_last_page(db: Path) -> None:
    _vacuumed(db)
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    noise = random.Random(17)
    for i in range(len(data) - page, len(data)):
        data[i] = noise.randrange(256)
    db.write_bytes(bytes(data))


def _dropped_table(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE permissions")
    conn.close()


def _bad_json_row(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            'UPDATE persons SET data = \'{"external_id": "1002", broken\' '
            "WHERE external_id = '1002'"
        )
    conn.close()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "0-byte file": (_empty, "is an empty file (0 bytes): its history is gone"),
    "truncated": (_truncated, "is damaged (database disk image is malformed)"),
    "garbled last page": (_garbled_last_page, "is damaged ("),
    "dropped table": (_dropped_table, "is damaged: the table(s) permissions are missing"),
    "bad JSON row": (
        _bad_json_row,
        "is damaged: persons.data of the row source='hr', external_id='1002' is not valid JSON",
    ),
}


def _nothing_sent(org: Org) -> None:
    assert org.helloid_sim.log.all() == [], "a request reached HelloID"
    assert org.afas.app.log.all() == [], "a request reached AFAS"


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_store_stops_every_command_with_a_clear_error_and_sends_nothing(
    org: Org, case: str
) -> None:
    damage, problem = DAMAGE[case]
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    damage(org.db)
    damaged = org.db.read_bytes()
    org.clear_logs()

    run = org.idsync("run", p, "--as-of", MOVED, check=2)
    assert run.stdout == ""
    [line] = run.stderr.splitlines()
    assert line.startswith(f"error: state store sqlite:///{org.db} ")
    assert problem in line
    assert "Nothing was changed" in line
    assert "Traceback" not in run.stderr
    _nothing_sent(org)
    assert org.db.read_bytes() == damaged  # not repaired, not replaced, not migrated

    plan = org.idsync("plan", p, "--as-of", MOVED, check=2)
    assert problem in plan.stderr
    readers = [("person", p, "1002"), ("status", p, "--no-connect"), ("held", p), ("audit", p)]
    if case == "bad JSON row":
        # Only what reads the broken row refuses (naming it); the rest of the history reads.
        readers = readers[:1]
        assert org.json("audit", p, "--person", "1002")["records"]
    for command in readers:
        refused = org.idsync(*command, check=2)
        assert refused.stdout == ""
        assert problem in refused.stderr, command
        assert "Traceback" not in refused.stderr
    _nothing_sent(org)
    assert org.db.read_bytes() == damaged


def test_a_removed_store_is_never_created_by_reading_and_a_run_says_it_starts_afresh(
    org: Org,
) -> None:
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    org.db.unlink()
    for command in (
        ("audit", p),
        ("person", p, "1002"),
        ("status", p, "--no-connect"),
        ("held", p),
    ):
        refused = org.idsync(*command, check=2)
        assert f"there is no state store at sqlite:///{org.db}" in refused.stderr, command
        assert not org.db.exists(), command
    planned = org.idsync("plan", p, "--as-of", JOINED, check=4)
    assert "there is no state store at" in planned.stderr
    assert "planned as the first run would (nothing was created)" in planned.stderr
    assert not org.db.exists()

    again = org.idsync("run", p, "--as-of", JOINED)
    assert f"new state store sqlite:///{org.db}: created by this run" in again.stdout
    assert org.db.exists()
    quiet = org.json("run", p, "--as-of", JOINED)
    assert quiet["state_created"] is False


def test_a_file_that_is_no_database_is_refused(org: Org, tmp_path: Path) -> None:
    org.db.write_text("these are my notes, not a database\n" * 20, encoding="utf-8")
    result = org.idsync("run", str(org.pipeline), "--as-of", JOINED, check=2)
    assert "is not a SQLite database" in result.stderr
    _nothing_sent(org)
