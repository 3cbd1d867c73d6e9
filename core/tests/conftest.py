"""Shared fixtures of the core tests: the installed plugins, the CLI (in-process and as a
subprocess) and a clean loguru after tests that reconfigure it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from idsync.plugins import Registry
from loguru import logger
from typer.testing import CliRunner, Result

IDSYNC = Path(sys.executable).with_name("idsync")
"""The console script of the venv the tests run in."""


def _reset_logging() -> None:
    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr, level="WARNING")


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Restore loguru's sinks after a test that calls ``idsync.log.setup``."""
    yield
    _reset_logging()


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Every installed plugin (afas, topdesk, helloid), discovered through entry points."""
    return Registry()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file into the test's temp directory and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def cli(clean_logging: None) -> Callable[..., Result]:
    """Invoke the ``idsync`` command in-process: ``cli("check", path, env={...})``."""
    from idsync.cli import app

    runner = CliRunner()

    def _invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
        try:
            return runner.invoke(app, list(args), env=dict(env or {}), catch_exceptions=False)
        finally:
            _reset_logging()

    return _invoke


@pytest.fixture
def run_idsync(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``idsync`` console script as a subprocess.

    ``path`` goes in front of ``PYTHONPATH`` (for plugins installed into a temp directory);
    stevedore's entry-point cache lives in the test's own temp directory.
    """

    def _run(
        *args: str, path: Path | None = None, env: Mapping[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        full.update(
            {
                "XDG_CACHE_HOME": str(tmp_path / ".cache"),
                "NO_COLOR": "1",
                "COLUMNS": "80",
            }
        )
        if path is not None:
            full["PYTHONPATH"] = str(path)
        full.update(env or {})
        return subprocess.run(
            [str(IDSYNC), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=60,
            check=False,
            **kw,
        )

    return _run


class PluginSite:
    """A directory of installed distributions: ``*.dist-info`` (METADATA and an
    ``idsync.plugins`` entry_points.txt) beside the plugin modules, for ``PYTHONPATH``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def module(self, name: str, source: str) -> None:
        """Write the module ``name`` (dedented)."""
        (self.path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")

    def distribution(self, dist: str, version: str, entry_points: Mapping[str, str]) -> None:
        """Install the distribution ``dist`` with ``{plugin name: "module:Class"}``."""
        info = self.path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[idsync.plugins]\n{lines}", encoding="utf-8")


@pytest.fixture
def plugin_site(tmp_path: Path) -> PluginSite:
    """An empty site directory to install plugin distributions into."""
    return PluginSite(tmp_path / "site")
