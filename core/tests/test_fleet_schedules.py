"""The fleet's schedules: when a pipeline is due (counted from its last start, so missed ticks
catch up once), the environment files secrets come from, and the commands' input errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from idsync.fleet import FleetSchedule, Schedules, read_env_file
from idsync.schedule import Schedule
from idsync.state import Store

ADDED = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _fs(schedule: Schedule, last_start: dt.datetime | None = None) -> FleetSchedule:
    return FleetSchedule(
        pipeline="acme",
        path="/p.yaml",
        env_file=None,
        schedule=schedule,
        queue="pipelines",
        added=ADDED,
        last_start=last_start,
    )


HOURLY = Schedule(every=dt.timedelta(hours=1))
HALF_HOURS = Schedule(cron="*/30 * * * *")


@pytest.mark.parametrize(
    ("schedule", "last_start", "at", "due"),
    [
        (HOURLY, None, ADDED, True),  # never ran: at once
        (HOURLY, ADDED, ADDED + dt.timedelta(minutes=59), False),
        (HOURLY, ADDED, ADDED + dt.timedelta(hours=1), True),
        (HOURLY, ADDED, ADDED + dt.timedelta(days=3), True),  # a missed day: one run catches up
        (HALF_HOURS, None, ADDED + dt.timedelta(minutes=29), False),  # cron: its next match
        (HALF_HOURS, None, ADDED + dt.timedelta(minutes=30), True),
        (HALF_HOURS, ADDED + dt.timedelta(minutes=31), ADDED + dt.timedelta(minutes=59), False),
        (HALF_HOURS, ADDED + dt.timedelta(minutes=31), ADDED + dt.timedelta(minutes=60), True),
    ],
)
def test_a_pipeline_is_due_from_its_last_start(
    schedule: Schedule, last_start: dt.datetime | None, at: dt.datetime, due: bool
) -> None:
    assert _fs(schedule, last_start).due(at) is due


def test_schedules_are_added_changed_listed_and_removed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fleet.db'}")
    schedules = Schedules(store)
    env = tmp_path / "acme.env"
    env.write_text("A=1\n")
    schedules.add("acme", Path("acme.yaml"), HOURLY, env_file=env)
    schedules.add("globex", Path("globex.yaml"), HALF_HOURS, queue="large")
    started = dt.datetime.now(dt.UTC)
    schedules.started("acme", started)
    changed = schedules.add("acme", Path("acme.yaml"), HALF_HOURS)  # a new schedule
    assert changed.schedule == HALF_HOURS
    assert changed.last_start is not None
    assert abs(changed.last_start - started) < dt.timedelta(seconds=1)  # its last run stays
    assert changed.env_file is None
    assert [s.pipeline for s in schedules.all()] == ["acme", "globex"]
    schedules.finished("acme", "failed", "boom")
    found = schedules.get("acme")
    assert found is not None
    assert (found.last_status, found.last_error) == ("failed", "boom")
    # A run taken over (another started since) does not overwrite the last run's outcome.
    assert not schedules.finished("acme", "stopped", started=started - dt.timedelta(minutes=1))
    assert schedules.finished("acme", "done", started=found.last_start)
    found = schedules.get("acme")
    assert found is not None
    assert found.last_status == "done"
    assert schedules.remove("acme")
    assert not schedules.remove("acme")
    assert [s.pipeline for s in schedules.all()] == ["globex"]
    store.close()


def test_an_env_file_is_read_as_a_shell_would(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text(
        "# credentials\n\nAFAS_TOKEN='<token>a b</token>'\nexport HELLOID_KEY=abc\nEMPTY=\n"
    )
    assert read_env_file(path) == {
        "AFAS_TOKEN": "<token>a b</token>",
        "HELLOID_KEY": "abc",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nthis is no assignment s3cr3t\n", "x.env:2: not a KEY=VALUE line"),
        ("B='unclosed s3cr3t\n", "x.env:1: the value of B is not quoted properly"),
    ],
)
def test_a_bad_env_file_line_is_named_without_its_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "x.env"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        read_env_file(path)
    assert "s3cr3t" not in str(caught.value)


def test_the_fleet_commands_need_a_postgresql_store(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    missing = cli("fleet")
    assert missing.exit_code == 2
    assert "--fleet or IDSYNC_FLEET" in missing.output
    sqlite = cli("worker", "--fleet", f"sqlite:///{tmp_path / 'f.db'}")
    assert sqlite.exit_code == 2
    assert "the fleet needs a PostgreSQL store" in sqlite.output
    bad = cli("schedule", "add", str(tmp_path / "p.yaml"), "--every", "soon", env={})
    assert bad.exit_code == 2
    assert "--every 'soon' is not an interval" in bad.output
