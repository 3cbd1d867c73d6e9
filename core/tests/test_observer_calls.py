"""Observer hooks go through pluggy's own hook calling, from one thread, in order, to the
engine's own instance of every observer plugin.

The run is real (the engine over the in-memory systems of :mod:`rig`, a real SQLite store,
four workers enforcing persons concurrently); the observers are plugins on the hooks.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from idsync.engine import EXIT_OK
from idsync.hookspecs import hookimpl
from idsync.model import ActionEvent, ActionKind, RunSummary
from loguru import logger
from rig import BASE, Rig


class Journal:
    """What the observers of every engine saw, in the order they saw it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.threads: set[str] = set()
        self.busy = 0
        self.overlaps = 0
        self.instances: list[object] = []
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.busy += 1
            self.overlaps += self.busy > 1
            self.threads.add(threading.current_thread().name)

    def leave(self) -> None:
        with self.lock:
            self.busy -= 1


class Recorder:
    """An observer that notes every call (and dawdles, so overlapping calls would show)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        journal.instances.append(self)

    @hookimpl
    def idsync_action_finished(self, event: ActionEvent) -> None:
        self.journal.enter()
        try:
            threading.Event().wait(0.002)
            self.journal.calls.append(("recorder", event.kind.value, (event.person, self)))
        finally:
            self.journal.leave()

    @hookimpl
    def idsync_run_finished(self, summary: RunSummary) -> None:
        self.journal.calls.append(("recorder", "run", (summary.run_id, self)))


class First:
    """``tryfirst``: pluggy calls it before every other observer of the event."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @hookimpl(tryfirst=True)
    def idsync_action_finished(self, event: ActionEvent) -> None:
        self.journal.calls.append(("first", event.kind.value, event.person))


class Wrapper:
    """A new-style wrapper around the observer hook: it sees each call and its outcome."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @hookimpl(wrapper=True)
    def idsync_action_finished(self, event: ActionEvent) -> Generator[None, None, None]:
        self.journal.calls.append(("wrapper", "before", event.person))
        result = yield
        self.journal.calls.append(("wrapper", "after", event.person))
        return result


class Raises:
    """An observer that breaks its promise: it raises on every create."""

    @hookimpl(trylast=True)
    def idsync_action_finished(self, event: ActionEvent) -> None:
        if event.kind is ActionKind.CREATE:
            raise RuntimeError(f"cannot observe {event.person}")


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def rig(tmp_path: Path, journal: Journal) -> Rig:
    rig = Rig(tmp_path, concurrency=4)
    rig.registry = type(rig.registry)(
        entry_points=False,
        extra={
            **{n: i.factory for n, i in rig.registry.plugins.items() if n in ("memhr", "memdir")},
            "recorder": lambda: Recorder(journal),
            "first": lambda: First(journal),
            "wrapper": lambda: Wrapper(journal),
            "raises": Raises,
        },
    )
    rig.configure()
    for n in range(12):
        rig.hr.hire(str(100 + n), BASE - dt.timedelta(days=400))
    return rig


def test_observers_are_called_through_pluggy_from_one_thread_in_order(
    rig: Rig, journal: Journal
) -> None:
    loaded = len(journal.instances)  # the registry's own, unconfigured instance
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING", format="{message}")
    try:
        report = rig.run(0)
    finally:
        logger.remove(sink)
    assert report.exit_code == EXIT_OK  # an observer that raises fails nothing

    # One thread, never the caller's nor an enforcing worker's, one call at a time.
    assert journal.threads == {"idsync-observers"}
    assert journal.overlaps == 0

    # Every event, through pluggy: the wrapper around it, inside it the tryfirst observer,
    # then the recorder, then (trylast) the one that raises; the wrapper sees it raise.
    calls = journal.calls[:-1]  # the last is the run's end
    recorded = [c for c in calls if c[0] == "recorder"]
    assert len(recorded) == report.count("done") == 36  # create, enable, grant: 12 persons
    position = 0
    while position < len(calls):
        _, _, person = calls[position]
        kind = calls[position + 1][1]
        expected = [("wrapper", "before", person), ("first", kind, person)]
        assert calls[position : position + 2] == expected
        assert calls[position + 2][:2] == ("recorder", kind)
        assert calls[position + 2][2][0] == person
        position += 3
        if kind != "create":  # a create raised in the trylast observer, through the wrapper
            assert calls[position] == ("wrapper", "after", person)
            position += 1
    assert sum("observer raises failed in idsync_action_finished" in w for w in warnings) == 12
    assert any("RuntimeError: cannot observe 100" in w for w in warnings)

    # In order: a person's create before their enable; the run's end after every event.
    seen: dict[str, list[str]] = {}
    for _, kind, (person, _instance) in recorded:
        seen.setdefault(person, []).append(kind)
    assert all(kinds == ["create", "enable", "grant"] for kinds in seen.values())
    assert journal.calls[-1][:2] == ("recorder", "run")

    # The engine had an instance of its own: not the registry's, and one per engine.
    engine_instances = journal.instances[loaded:]
    assert len(engine_instances) == 1
    assert {c[2][1] for c in journal.calls if c[0] == "recorder"} == set(engine_instances)
    rig.run(1)
    assert len(journal.instances) == loaded + 2


def test_the_observers_thread_ends_with_the_run(rig: Rig) -> None:
    """An engine kept open (the console keeps one per pipeline) leaves no thread behind."""
    engine = rig.engine()
    try:
        assert engine.run(BASE, time_travel=True).exit_code == EXIT_OK
        alive = [t for t in threading.enumerate() if t.name == "idsync-observers"]
        assert alive == []
        assert engine.run(BASE, time_travel=True).exit_code == EXIT_OK  # and starts again
        assert [t for t in threading.enumerate() if t.name == "idsync-observers"] == []
    finally:
        engine.close()
