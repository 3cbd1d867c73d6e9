"""One broken plugin fails only the systems that use it.

A target plugin whose constructor raises, or whose contribution to the expression language
raises, fails its own target (recorded in the audit trail, exit 1) while the other target's
accounts are made; a pipeline that does not use it never notices. Two plugins a pipeline uses
that contribute the same function are reported, naming both, before anything runs. The real
engine, a real SQLite store, and the in-memory systems of :mod:`rig`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from idsync.config import ConfigError, load_pipeline
from idsync.engine import EXIT_FAILED, EXIT_OK, Engine
from idsync.hookspecs import hookimpl
from idsync.model import PluginAbout, PluginKind
from idsync.plugins import Registry
from idsync.state import Store
from pydantic import BaseModel
from rig import BASE, HR, Directory, MemorySource, MemoryTarget

PIPELINE = """\
name: isolation
state: sqlite:///{db}
sources:
  hr: {{plugin: memhr}}
targets:
{targets}
"""

TARGET = """\
  {name}:
    plugin: {plugin}
    account:
      correlate: {{person: external_id, account: employeeId}}
      mapping:
        employeeId: "{{{{ person.external_id }}}}"
        family: "{{{{ {family} }}}}"
"""


class _NoSettings(BaseModel):
    pass


class _Refuses(MemoryTarget):
    """Loads (unconfigured), but cannot be set up with settings: its constructor raises."""

    def __init__(self, directory: Directory, settings: BaseModel | None = None) -> None:
        if settings is not None:
            raise ConnectionError("the license server for plugin 'refuses' is unreachable")
        super().__init__(directory, settings)

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="refuses", kind=PluginKind.TARGET, version="1", settings=_NoSettings
        )


class _BrokenFunctions(MemoryTarget):
    """Works as a target, but its contribution to the expression language raises."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(
            name="brokenfn", kind=PluginKind.TARGET, version="1", settings=_NoSettings
        )

    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        raise KeyError("upper")


def _shouting(name: str) -> type[MemoryTarget]:
    class Shouting(MemoryTarget):
        """A target that contributes ``shout``."""

        @hookimpl
        def idsync_about(self) -> PluginAbout:
            return PluginAbout(name=name, kind=PluginKind.TARGET, version="1", settings=_NoSettings)

        @hookimpl
        def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
            return {"shout": lambda text: f"{str(text).upper()} ({name})"}

    return Shouting


class World:
    """An HR source with three persons and a directory per target plugin."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.hr = HR()
        for pid in ("1", "2", "3"):
            self.hr.hire(pid, BASE - dt.timedelta(days=400))
        self.dirs = {name: Directory() for name in ("memdir", "refuses", "brokenfn", "a", "b")}
        kinds: dict[str, type[MemoryTarget]] = {
            "memdir": MemoryTarget,
            "refuses": _Refuses,
            "brokenfn": _BrokenFunctions,
            "a": _shouting("a"),
            "b": _shouting("b"),
        }
        extra: dict[str, Callable[..., Any]] = {
            "memhr": lambda settings=None: MemorySource(self.hr, settings)
        }
        for name, kind in kinds.items():
            extra[name] = lambda settings=None, kind=kind, name=name: kind(
                self.dirs[name], settings
            )
        self.registry = Registry(entry_points=False, extra=extra)

    def pipeline(self, *targets: tuple[str, str, str]) -> Path:
        """A pipeline file with ``(name, plugin, family expression)`` targets."""
        body = "".join(
            TARGET.format(name=name, plugin=plugin, family=family)
            for name, plugin, family in targets
        )
        path = self.tmp / "pipeline.yaml"
        path.write_text(PIPELINE.format(db=self.tmp / "state.db", targets=body), encoding="utf-8")
        return path

    def engine(self, path: Path) -> Engine:
        return Engine(load_pipeline(path, self.registry, env={}), self.registry)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _audit(world: World, target: str) -> list[dict[str, Any]]:
    store = Store(f"sqlite:///{world.tmp / 'state.db'}")
    try:
        return store.audit(target=target)
    finally:
        store.close()


def test_a_target_whose_plugin_cannot_be_set_up_fails_alone(world: World) -> None:
    path = world.pipeline(
        ("helpdesk", "refuses", "person.name.family"), ("directory", "memdir", "person.name.family")
    )
    engine = world.engine(path)
    try:
        planned = engine.plan(BASE)
        report = engine.run(BASE, time_travel=True)
    finally:
        engine.close()

    # The plan shows the working target and says why the other is missing.
    assert planned.exit_code == EXIT_FAILED
    assert planned.plan is not None
    assert list(planned.plan.targets) == ["directory"]
    assert "license server for plugin 'refuses' is unreachable" in (planned.error or "")

    # The run: the working target's accounts are made, the broken one fails, exit 1.
    assert report.exit_code == EXIT_FAILED
    assert sorted(e.data["employeeId"] for e in world.dirs["memdir"].accounts.values()) == [
        "1",
        "2",
        "3",
    ]
    assert report.count("done", "create") == 3
    assert report.count("failed") == 1
    assert report.counts[("failed", "plugin")] == 1
    assert world.dirs["refuses"].calls == []
    (record,) = _audit(world, "helpdesk")
    assert record["kind"] == "plugin"
    assert record["status"] == "failed"
    assert record["person"] is None
    assert record["messages"] == [
        "plugin 'refuses' could not be set up for helpdesk: ConnectionError: "
        "the license server for plugin 'refuses' is unreachable"
    ]
    assert {(r["kind"], r["status"]) for r in _audit(world, "directory")} == {
        ("create", "done"),
        ("enable", "done"),
    }
    store = Store(f"sqlite:///{world.tmp / 'state.db'}")
    try:
        (run,) = store.runs("isolation")
    finally:
        store.close()
    assert (run["status"], run["exit_code"]) == ("failed", EXIT_FAILED)


def test_a_source_whose_plugin_cannot_be_set_up_fails_the_import(
    world: World, tmp_path: Path
) -> None:
    class Unsettable(MemorySource):
        def __init__(self, hr: HR, settings: BaseModel | None = None) -> None:
            if settings is not None:
                raise RuntimeError("no HR today")
            super().__init__(hr, settings)

    registry = Registry(
        entry_points=False,
        extra={
            "memhr": lambda settings=None: Unsettable(world.hr, settings),
            "memdir": lambda settings=None: MemoryTarget(world.dirs["memdir"], settings),
        },
    )
    path = world.pipeline(("directory", "memdir", "person.name.family"))
    engine = Engine(load_pipeline(path, registry, env={}), registry)
    try:
        report = engine.run(BASE, time_travel=True)
    finally:
        engine.close()
    assert report.exit_code == EXIT_FAILED
    assert report.error == (
        "source hr: plugin 'memhr' could not be set up for hr: RuntimeError: no HR today"
    )
    assert world.dirs["memdir"].accounts == {}  # nothing downstream of a failed import


def test_a_plugin_whose_contribution_fails_fails_only_where_it_is_used(world: World) -> None:
    broken = world.registry.get("brokenfn")
    assert broken is not None
    assert broken.error is None  # loaded: listed, usable for what does not need it
    assert broken.contribution_error == "KeyError: 'upper'"

    # A pipeline without it: nothing to notice.
    alone = world.engine(world.pipeline(("directory", "memdir", "person.name.family")))
    try:
        assert alone.run(BASE, time_travel=True).exit_code == EXIT_OK
    finally:
        alone.close()

    # A pipeline with it: its target fails, the other one still runs.
    both = world.engine(
        world.pipeline(("directory", "memdir", "person.name.family"), ("broken", "brokenfn", "'x'"))
    )
    try:
        report = both.run(BASE + dt.timedelta(days=1), time_travel=True)
    finally:
        both.close()
    assert report.exit_code == EXIT_FAILED
    assert world.dirs["brokenfn"].calls == []
    assert "a contribution failed: KeyError: 'upper'" in (report.error or "")
    (record,) = _audit(world, "broken")
    assert (record["kind"], record["status"]) == ("plugin", "failed")


def test_a_function_two_plugins_of_a_pipeline_contribute_is_an_error_naming_both(
    world: World,
) -> None:
    path = world.pipeline(("one", "a", "shout(person.name.family)"), ("two", "b", "'b'"))
    with pytest.raises(ConfigError) as raised:
        load_pipeline(path, world.registry, env={})
    assert raised.value.errors == [
        (
            "targets.two.plugin",
            "the expression function 'shout' is contributed by plugin 'a' and by plugin 'b': "
            "a pipeline cannot use both (rename it in one of them)",
        )
    ]


def test_a_plugin_the_pipeline_does_not_use_contributes_nothing(world: World) -> None:
    # Both "a" and "b" are installed; the pipeline uses "a" only, so "shout" is a's.
    engine = world.engine(world.pipeline(("one", "a", "shout(person.name.family)")))
    try:
        assert engine.run(BASE, time_travel=True).exit_code == EXIT_OK
    finally:
        engine.close()
    families = sorted(e.data["family"] for e in world.dirs["a"].accounts.values())
    assert families == ["FAMILY1 (a)", "FAMILY2 (a)", "FAMILY3 (a)"]
