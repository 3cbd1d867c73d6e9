"""Plugin discovery through real entry points: distributions written into a temp directory
(``*.dist-info`` with ``entry_points.txt``) and put on ``PYTHONPATH`` of the ``idsync`` command."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from idsync.hookspecs import hookimpl
from idsync.model import HookContext, PluginAbout, PluginKind
from idsync.plugins import PluginLoadError, Registry
from pydantic import BaseModel, ConfigDict

GOOD = """
from pydantic import BaseModel, ConfigDict

from idsync import ActionResult, PluginAbout, PluginKind, hookimpl


class DemoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "https://demo.invalid"


class DemoPlugin:
    def __init__(self, settings=None):
        self.settings = settings

    @hookimpl
    def idsync_about(self):
        return PluginAbout(
            name="demo", kind=PluginKind.SOURCE, version="0", summary="a demo source",
            settings=DemoSettings,
        )

    @hookimpl
    def idsync_persons(self, ctx):
        return []

    @hookimpl
    def idsync_check_connection(self, ctx):
        return ActionResult()
"""

UNKNOWN_HOOK = """
from demo_good import DemoPlugin
from idsync import hookimpl


class FrobPlugin(DemoPlugin):
    @hookimpl
    def idsync_frobnicate(self):
        return 1
"""


@pytest.fixture
def good_site(plugin_site: Any) -> Path:
    """A site directory holding one working plugin distribution."""
    plugin_site.module("demo_good", GOOD)
    plugin_site.distribution("idsync-demo", "1.2.3", {"demo": "demo_good:DemoPlugin"})
    return Path(plugin_site.path)


@pytest.fixture
def mixed_site(good_site: Path, plugin_site: Any) -> Path:
    """The working plugin plus one whose import raises and one with an unknown hook."""
    plugin_site.module("demo_broken", "raise RuntimeError('kaboom while importing')\n")
    plugin_site.module("demo_frob", UNKNOWN_HOOK)
    plugin_site.distribution("idsync-broken", "0.0.1", {"broken": "demo_broken:Plugin"})
    plugin_site.distribution("idsync-frob", "2.0", {"frob": "demo_frob:FrobPlugin"})
    return good_site


Run = Callable[..., Any]


def _listing(run_idsync: Run, site: Path, *flags: str) -> dict[str, dict[str, Any]]:
    result = run_idsync(*flags, "plugins", "--json", path=site)
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)["plugins"]}


def test_installed_plugin_is_listed_with_its_distribution(run_idsync: Run, good_site: Path) -> None:
    listing = _listing(run_idsync, good_site)
    demo = listing["demo"]
    assert demo["kind"] == "source"
    assert demo["package"] == "idsync-demo"
    assert demo["version"] == "1.2.3"
    assert demo["hooks"] == ["idsync_about", "idsync_check_connection", "idsync_persons"]
    assert demo["capabilities"] == ["persons"]
    assert demo["summary"] == "a demo source"
    assert demo["error"] is None
    # The plugins of this repository are installed the same way and still listed.
    for name, kind in (("afas", "both"), ("topdesk", "both"), ("helloid", "target")):
        assert listing[name]["kind"] == kind
        assert listing[name]["package"] == f"idsync-{name}"
        assert listing[name]["error"] is None
    assert listing["log"]["builtin"] is True


def test_strict_mode_passes_when_every_plugin_loads(run_idsync: Run, good_site: Path) -> None:
    result = run_idsync("--strict", "plugins", "--json", path=good_site)
    assert result.returncode == 0, result.stderr
    assert "demo" in {e["name"] for e in json.loads(result.stdout)["plugins"]}


def test_broken_plugins_are_isolated_and_listed_with_their_error(
    run_idsync: Run, mixed_site: Path
) -> None:
    listing = _listing(run_idsync, mixed_site)
    broken = listing["broken"]
    assert broken["error"] == "RuntimeError: kaboom while importing"
    assert broken["package"] == "idsync-broken"
    assert broken["version"] == "0.0.1"
    assert broken["kind"] is None
    assert broken["hooks"] == []

    frob = listing["frob"]
    assert frob["package"] == "idsync-frob"
    assert "unknown hook 'idsync_frobnicate'" in frob["error"]
    assert "FrobPlugin" in frob["error"]
    assert frob["hooks"] == []

    assert listing["demo"]["error"] is None
    assert listing["demo"]["hooks"] == ["idsync_about", "idsync_check_connection", "idsync_persons"]
    assert all(listing[name]["error"] is None for name in ("afas", "topdesk", "helloid"))


def test_the_working_plugin_is_usable_beside_the_broken_ones(
    run_idsync: Run, mixed_site: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("sources:\n  hr:\n    plugin: demo\n    settings: {url: https://x.invalid}\n")
    result = run_idsync("check", "--connect", str(good), path=mixed_site)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "  ok sources.hr (demo): connected; no persons to read"
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  hr:\n    plugin: broken\n")
    result = run_idsync("check", str(bad), path=mixed_site)
    assert result.returncode == 2
    assert (
        f"{bad}: sources.hr.plugin: plugin 'broken' failed to load: "
        "RuntimeError: kaboom while importing"
    ) in result.stderr


def test_human_listing_shows_the_error_beside_the_working_plugins(
    run_idsync: Run, mixed_site: Path
) -> None:
    result = run_idsync("plugins", path=mixed_site, env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (broken,) = [line for line in lines if " broken " in line]
    assert "RuntimeError: kaboom while importing" in broken
    (demo,) = [line for line in lines if " demo " in line]
    assert "idsync-demo" in demo
    assert "persons" in demo
    # The failure is also logged as a warning naming the plugin.
    assert "plugin broken could not be loaded" in result.stderr


def test_strict_mode_fails_on_a_broken_plugin(run_idsync: Run, mixed_site: Path) -> None:
    result = run_idsync("--strict", "plugins", "--json", path=mixed_site)
    assert result.returncode == 2
    assert result.stdout == ""
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "could not be loaded" in error[0]
    assert "'frob'" in error[0] or "'broken'" in error[0]


def test_strict_mode_names_plugin_and_unknown_hook(
    run_idsync: Run, good_site: Path, plugin_site: Any
) -> None:
    plugin_site.module("demo_frob", UNKNOWN_HOOK)
    plugin_site.distribution("idsync-frob", "2.0", {"frob": "demo_frob:FrobPlugin"})
    result = run_idsync("--strict", "plugins", path=good_site)
    assert result.returncode == 2
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "plugin 'frob' could not be loaded" in error
    assert "unknown hook 'idsync_frobnicate'" in error


# --- the registry in-process ----------------------------------------------------------


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = "default"


class _Source:
    def __init__(self, settings: _Settings | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(name="src", kind=PluginKind.SOURCE, version="1", settings=_Settings)

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> list[dict[str, Any]]:
        assert self.settings is not None
        return [{"external_id": self.settings.label, "name": {"family": ctx.system}}]


class _Frob(_Source):
    @hookimpl
    def idsync_frobnicate(self) -> None:
        """Not a hook idsync knows."""


class _NoAbout:
    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> list[Any]:
        return []


class _WrongAbout:
    @hookimpl
    def idsync_about(self) -> dict[str, str]:
        return {"name": "wrong"}


class _FailsOnConstruction(_Source):
    def __init__(self, settings: _Settings | None = None) -> None:
        raise OSError("no such device")


def test_registry_isolates_invalid_plugins_and_keeps_the_others() -> None:
    registry = Registry(
        extra={
            "src": _Source,
            "frob": _Frob,
            "mute": _NoAbout,
            "wrong": _WrongAbout,
            "ctor": _FailsOnConstruction,
        },
        entry_points=False,
    )
    assert registry.names() == ["src"]
    frob = registry.get("frob")
    assert frob is not None
    assert frob.error is not None
    assert "unknown hook 'idsync_frobnicate'" in frob.error
    mute = registry.get("mute")
    assert mute is not None
    assert mute.error is not None
    assert mute.error.startswith("PluginLoadError: ")
    assert "idsync_about" in mute.error
    wrong = registry.get("wrong")
    assert wrong is not None
    assert wrong.error == "PluginLoadError: idsync_about did not return a PluginAbout"
    ctor = registry.get("ctor")
    assert ctor is not None
    assert ctor.error == "OSError: no such device"
    with pytest.raises(PluginLoadError, match="'frob' is not available"):
        registry.system("x", "frob", _Settings())


def test_strict_registry_raises_naming_plugin_and_hook() -> None:
    with pytest.raises(PluginLoadError) as info:
        Registry(strict=True, extra={"frob": _Frob}, entry_points=False)
    assert "plugin 'frob'" in str(info.value)
    assert "idsync_frobnicate" in str(info.value)


def test_each_configured_system_gets_its_own_plugin_manager() -> None:
    registry = Registry(extra={"src": _Source}, entry_points=False)
    observers = registry.observers()
    one = registry.system("hr-one", "src", _Settings(label="one"), observers)
    two = registry.system("hr-two", "src", _Settings(label="two"), observers)
    assert one.pm is not two.pm
    assert one.pm is not registry.pm
    assert one.hook.idsync_persons(ctx=HookContext(system="hr-one")) == [
        {"external_id": "one", "name": {"family": "hr-one"}}
    ]
    assert two.hook.idsync_persons(ctx=HookContext(system="hr-two")) == [
        {"external_id": "two", "name": {"family": "hr-two"}}
    ]
    assert one.implements("idsync_persons")
    assert not one.implements("idsync_create")
    # The engine's observers sit beside the connector in every system (their wrappers see
    # every lifecycle call), and the system reports its actions to them.
    for system in (one, two):
        beside = {impl.plugin for impl in system.pm.hook.idsync_run_finished.get_hookimpls()}
        assert beside == set(observers.plugins)
        assert system.observers is observers
    assert {type(p).__name__ for p in observers.plugins} == {"ActionLog", "Notifier"}


# --- idsync plugins --about -----------------------------------------------------------


def test_about_markdown(cli: Callable[..., Any]) -> None:
    result = cli("plugins", "--about", "helloid", "--format", "markdown")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("# helloid\n")
    assert "- kind: target" in out
    assert "- package: idsync-helloid" in out
    assert "| setting | type | required | default | description |" in out
    assert "| `api_key` | secret | yes |" in out
    assert "| `base_url` | str | yes |" in out


def test_about_json(cli: Callable[..., Any]) -> None:
    result = cli("plugins", "--about", "helloid", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    data = document["plugin"]
    assert data["permission_kinds"] == ["group", "product"]
    assert "userAttributes.*" in data["attributes"]
    assert data["name"] == "helloid"
    assert data["kind"] == "target"
    assert "grant" in data["capabilities"]
    settings = {row["name"]: row for row in data["settings"]}
    assert settings["api_secret"]["secret"] is True
    assert settings["api_secret"]["required"] is True
    assert settings["api_secret"]["default"] is None
    assert settings["base_url"]["secret"] is False


def test_about_text(cli: Callable[..., Any]) -> None:
    result = cli("plugins", "--about", "afas", "--format", "text")
    assert result.exit_code == 0
    first, *rest = result.stdout.splitlines()
    assert first.startswith("afas (both) idsync-afas ")
    assert "  settings:" in rest
    assert any(line.strip().startswith("token: secret (required)") for line in rest)


def test_about_rejects_unknown_plugin_and_format(cli: Callable[..., Any]) -> None:
    unknown = cli("plugins", "--about", "nosuch")
    assert unknown.exit_code == 2
    assert "no plugin named 'nosuch'" in unknown.stderr
    bad_format = cli("plugins", "--about", "helloid", "--format", "xml")
    assert bad_format.exit_code == 2
    assert "--format 'xml'" in bad_format.stderr


# --- the sandbox hook left the production contract ------------------------------------


class _OldSandbox(_Source):
    """A plugin written before the sandbox hook moved: its hookimpl is not optional."""

    @hookimpl
    def idsync_sandbox(self, world: Any) -> None:
        return None


class _NewSandbox(_Source):
    @hookimpl(optionalhook=True)
    def idsync_sandbox(self, world: Any) -> None:
        return None


def test_a_plugin_with_the_sandbox_hook_loads_marked_optional_or_with_a_deprecation() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry = Registry(extra={"new": _NewSandbox}, entry_points=False)
    assert registry.names() == ["new"]
    with pytest.warns(
        DeprecationWarning,
        match=r"plugin 'old': idsync_sandbox belongs to idsync\.sandbox\.hookspecs; mark it @hookimpl\(optionalhook=True\)",
    ):
        registry = Registry(extra={"old": _OldSandbox}, entry_points=False)
    assert registry.names() == ["old"]
    # Any other unknown hook is still refused.
    assert "unknown hook 'idsync_frobnicate'" in (
        Registry(extra={"frob": _Frob}, entry_points=False).plugins["frob"].error or ""
    )


@pytest.mark.parametrize(
    ("statement", "moved"),
    [
        ("import idsync.simulator", "idsync.simulator moved to idsync.sandbox.simulator"),
        ("from idsync.world import World", "idsync.world moved to idsync.sandbox.world"),
        ("from idsync import World", "idsync.World moved to idsync.sandbox.world.World"),
        ("from idsync import generate_world", "idsync.generate_world moved to"),
    ],
)
def test_the_old_sandbox_imports_still_work_and_warn(statement: str, moved: str) -> None:
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    {statement}\n"
        "print('\\n'.join(f'{w.category.__name__}: {w.message}' for w in caught))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"DeprecationWarning: {moved}" in result.stdout


def test_the_package_root_exports_what_plugins_and_embedding_programs_use() -> None:
    import idsync

    assert "World" not in idsync.__all__
    assert "generate_world" not in idsync.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = idsync.Nothing  # type: ignore[attr-defined]
