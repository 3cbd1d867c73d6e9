"""The sandbox runner: plugins' simulators served on 127.0.0.1 with their environment.

The test plugins live in a small module written to a temporary directory, so the same code
serves in-process tests, entry-point discovery (through a real ``.dist-info``) and a
``run_forever`` subprocess stopped with a real signal.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from idsync.sandbox import Sandbox, run_forever
from rich.console import Console

TODAY = dt.date(2025, 3, 15)
MODULE = "idsync_sandbox_test_plugins"
PLUGINS_SOURCE = '''
"""Plugins for the sandbox tests: a working simulator, a broken hook, a silent one."""

from idsync import PluginAbout, PluginKind, hookimpl
from idsync.sandbox.simulator import SandboxApp, Simulated
from pydantic import BaseModel
from idsync.sandbox.world import World
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class _Described:
    """Every connector answers idsync_about; these are targets without settings."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(name=type(self).__name__, kind=PluginKind.TARGET, version="0.1", settings=BaseModel)


class EchoPlugin(_Described):
    """Serves the world's persons under ``/api``."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    @hookimpl(optionalhook=True)
    def idsync_sandbox(self, world: World) -> SandboxApp:
        async def persons(request: Request) -> JSONResponse:
            return JSONResponse(
                {"count": len(world.persons), "ids": [p.external_id for p in world.persons]}
            )

        prefix = self.name.upper()
        return SandboxApp(
            name=self.name,
            app=Simulated(Starlette(routes=[Route("/api/persons", persons)])),
            env={
                f"{prefix}_BASE_URL": "{url}",
                f"{prefix}_TOKEN": "<token><data>s3cret value</data></token>",
                f"{prefix}_USER": "sandbox",
            },
            mount="/api",
            summary=f"{len(world.persons)} persons",
        )


class BrokenPlugin(_Described):
    @hookimpl(optionalhook=True)
    def idsync_sandbox(self, world: World) -> SandboxApp:
        raise RuntimeError("the simulator could not be seeded")


class SilentPlugin:
    """A plugin without a simulator (its sandbox extra is not installed), written before the
    hook left the production contract: unmarked, it still takes part."""

    @hookimpl
    def idsync_sandbox(self, world: World) -> None:
        return None


class CrashingPlugin:
    def __init__(self) -> None:
        raise OSError("cannot read the plugin's data files")


class UnknownHookPlugin:
    @hookimpl
    def idsync_no_such_hook(self) -> None:
        return None
'''


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    (tmp_path / f"{MODULE}.py").write_text(PLUGINS_SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return importlib.import_module(MODULE)


def _free_port_pair() -> int:
    """A port p such that p and p + 1 are free just now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


def test_serves_each_simulator_on_loopback_with_its_environment(plugins: ModuleType) -> None:
    with Sandbox(
        size=30, seed=2, today=TODAY, plugins=[plugins.EchoPlugin(), plugins.EchoPlugin("other")]
    ) as sandbox:
        assert list(sandbox.apps) == ["echo", "other"]
        for name in ("echo", "other"):
            server = sandbox.servers[name]
            assert server.url.startswith("http://127.0.0.1:")
            assert sandbox.urls[name] == f"{server.url}/api"
        assert sandbox.servers["echo"].port != sandbox.servers["other"].port
        assert sandbox.env == {
            "ECHO_BASE_URL": sandbox.urls["echo"],
            "ECHO_TOKEN": "<token><data>s3cret value</data></token>",
            "ECHO_USER": "sandbox",
            "OTHER_BASE_URL": sandbox.urls["other"],
            "OTHER_TOKEN": "<token><data>s3cret value</data></token>",
            "OTHER_USER": "sandbox",
        }
        answer = httpx.get(f"{sandbox.env['ECHO_BASE_URL']}/persons").json()
        assert answer["count"] == 30
        assert answer["ids"] == [p.external_id for p in sandbox.world.persons]
        assert [r.path for r in sandbox.apps["echo"].app.log.all()] == ["/api/persons"]
        assert sandbox.errors == {}
        url = sandbox.env["OTHER_BASE_URL"]
    assert sandbox.servers == {}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/persons")


def test_a_stopped_sandbox_starts_again_with_the_same_world(plugins: ModuleType) -> None:
    sandbox = Sandbox(size=20, today=TODAY, plugins=[plugins.EchoPlugin()])
    with sandbox:
        with pytest.raises(RuntimeError, match="already running"):
            sandbox.start()
        first = sandbox.env["ECHO_BASE_URL"]
    with sandbox:
        again = sandbox.env["ECHO_BASE_URL"]
        assert sandbox.errors == {}
        assert httpx.get(f"{again}/persons").json()["count"] == 20
    assert list(sandbox.apps) == ["echo"]
    assert first.startswith("http://127.0.0.1:")


def test_the_world_follows_size_seed_and_today(plugins: ModuleType) -> None:
    sandbox = Sandbox(size=25, seed=9, today=TODAY, plugins=[plugins.EchoPlugin()])
    assert len(sandbox.world.persons) == 25
    assert sandbox.world.seed == 9
    assert sandbox.world.today == TODAY


def test_a_failing_plugin_is_reported_and_the_others_run(plugins: ModuleType) -> None:
    chosen = [
        plugins.BrokenPlugin(),
        plugins.SilentPlugin(),
        plugins.UnknownHookPlugin(),
        plugins.EchoPlugin(),
        plugins.EchoPlugin(),  # the same simulator name twice
    ]
    with Sandbox(size=20, today=TODAY, plugins=chosen) as sandbox:
        assert list(sandbox.apps) == ["echo"]
        assert httpx.get(f"{sandbox.env['ECHO_BASE_URL']}/persons").status_code == 200
        errors = sandbox.errors
    assert "the simulator could not be seeded" in errors["BrokenPlugin"]
    assert errors["UnknownHookPlugin"].startswith("rejected: ")
    assert "idsync_no_such_hook" in errors["UnknownHookPlugin"]
    assert "already running" in errors["EchoPlugin"]
    assert "SilentPlugin" not in errors


def test_port_base_numbers_the_simulators(plugins: ModuleType) -> None:
    base = _free_port_pair()
    chosen = [plugins.EchoPlugin(), plugins.EchoPlugin("other")]
    with Sandbox(size=20, today=TODAY, port_base=base, plugins=chosen) as sandbox:
        assert sandbox.env["ECHO_BASE_URL"] == f"http://127.0.0.1:{base}/api"
        assert sandbox.env["OTHER_BASE_URL"] == f"http://127.0.0.1:{base + 1}/api"
        assert httpx.get(f"http://127.0.0.1:{base + 1}/api/persons").status_code == 200


def test_a_port_in_use_stops_everything_with_a_clear_error(plugins: ModuleType) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        base = taken.getsockname()[1] - 1
        chosen = [plugins.EchoPlugin(), plugins.EchoPlugin("other")]
        sandbox = Sandbox(size=20, today=TODAY, port_base=base, plugins=chosen)
        with pytest.raises(RuntimeError, match=rf"simulator on 127\.0\.0\.1:({base}|{base + 1}): "):
            sandbox.start()
    assert sandbox.servers == {}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{base}/api/persons")


def test_env_file_can_be_sourced_by_a_shell(plugins: ModuleType, tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    with Sandbox(size=20, today=TODAY, plugins=[plugins.EchoPlugin()]) as sandbox:
        assert sandbox.write_env_file(env_file) == env_file
        expected = sandbox.env
    lines = env_file.read_text(encoding="utf-8").splitlines()
    assert [line.split("=", 1)[0] for line in lines] == list(expected)
    assert f"ECHO_BASE_URL={expected['ECHO_BASE_URL']}" in lines
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds credentials
    shell = subprocess.run(
        ["sh", "-c", f'set -a; . "{env_file}"; printf "%s\\n%s" "$ECHO_TOKEN" "$ECHO_BASE_URL"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert shell.stdout.splitlines() == [expected["ECHO_TOKEN"], expected["ECHO_BASE_URL"]]


def test_plugins_are_discovered_through_entry_points(tmp_path: Path, plugins: ModuleType) -> None:
    dist_info = tmp_path / "idsync_sandbox_test_plugins-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: idsync-sandbox-test-plugins\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [idsync.plugins]
            zz-echo = {MODULE}:EchoPlugin
            zz-broken = {MODULE}:BrokenPlugin
            zz-missing = idsync_no_such_module:Plugin
            zz-crash = {MODULE}:CrashingPlugin
            """),
        encoding="utf-8",
    )
    with Sandbox(size=20, today=TODAY) as sandbox:
        assert "echo" in sandbox.apps
        assert httpx.get(f"{sandbox.env['ECHO_BASE_URL']}/persons").json()["count"] == 20
        errors = sandbox.errors
    assert "could not load" in errors["zz-missing"]
    assert "idsync_no_such_module" in errors["zz-missing"]
    assert "could not be seeded" in errors["zz-broken"]
    assert "cannot read the plugin's data files" in errors["zz-crash"]


def _run_in_thread(**kwargs: object) -> tuple[threading.Thread, io.StringIO, list[int]]:
    output = io.StringIO()
    result: list[int] = []
    console = Console(file=output, width=200, color_system=None)
    thread = threading.Thread(
        target=lambda: result.append(run_forever(console=console, **kwargs)),  # type: ignore[arg-type]
        daemon=True,
    )
    thread.start()
    return thread, output, result


def test_run_forever_prints_urls_and_credentials_until_stopped(
    plugins: ModuleType, tmp_path: Path
) -> None:
    stop = threading.Event()
    env_file = tmp_path / "sandbox.env"
    thread, output, result = _run_in_thread(
        size=40,
        seed=1,
        today=TODAY,
        env_file=env_file,
        stop=stop,
        plugins=[plugins.EchoPlugin(), plugins.BrokenPlugin()],
    )
    deadline = time.monotonic() + 30
    while "Ctrl-C" not in output.getvalue():
        assert time.monotonic() < deadline, output.getvalue()
        assert thread.is_alive(), output.getvalue()
        time.sleep(0.05)
    text = output.getvalue()
    url = next(line for line in env_file.read_text().splitlines() if "BASE_URL" in line)
    url = url.split("=", 1)[1]
    assert url in text
    assert "ECHO_TOKEN='<token><data>s3cret value</data></token>'" in text
    assert "40 persons" in text
    assert "could not be seeded" in text
    assert httpx.get(f"{url}/persons").json()["count"] == 40
    stop.set()
    thread.join(timeout=10)
    assert result == [0]
    assert "Sandbox stopped." in output.getvalue()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/persons")


def test_run_forever_without_simulators_fails(plugins: ModuleType) -> None:
    thread, output, result = _run_in_thread(size=5, plugins=[plugins.SilentPlugin()])
    thread.join(timeout=30)
    assert result == [2]
    assert "No simulator to start" in output.getvalue()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_forever_stops_cleanly_on_a_signal(
    plugins: ModuleType, tmp_path: Path, signum: signal.Signals
) -> None:
    env_file = tmp_path / "sandbox.env"
    script = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from {MODULE} import EchoPlugin
        from idsync.sandbox import run_forever
        sys.exit(run_forever(size=30, env_file={str(env_file)!r}, plugins=[EchoPlugin()]))
        """)
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists() or "BASE_URL" not in env_file.read_text():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        url = env_file.read_text().splitlines()[0].split("=", 1)[1]
        assert httpx.get(f"{url}/persons").json()["count"] == 30
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Sandbox stopped." in stdout
    assert "Traceback" not in stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/persons")
