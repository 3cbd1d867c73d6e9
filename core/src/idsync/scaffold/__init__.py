"""The plugin generator behind ``idsync new-plugin``: a complete, working plugin package.

``new_plugin("acme", "target", Path("."))`` writes ``./idsync-acme``: a pyproject with the
entry point and a pinned ``idsync``, a settings model, the hook implementations with their
contract in comments, an HTTP client, a simulator of a small REST API (a starlette app in
:class:`idsync.simulator.Simulated`, with the ``idsync_sandbox`` hook), tests that run the
contract kit (:mod:`idsync.testing`) against that simulator, and a README. The package
installs and its tests pass as generated; the author then replaces the simulated API with
their vendor's real one, keeping the tests green.

The templates (Jinja2) are package data in ``idsync/scaffold/templates``.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

__all__ = [
    "HATCHLING",
    "KINDS",
    "MYPY",
    "PYTEST",
    "RUFF",
    "PluginNames",
    "ScaffoldError",
    "check_name",
    "new_plugin",
]

Kind = Literal["source", "target", "both"]
KINDS: tuple[Kind, ...] = ("source", "target", "both")

HATCHLING = "hatchling==1.29.0"
"""The build backend pin of generated packages (the one idsync itself builds with)."""
PYTEST = "pytest==9.2.0"
RUFF = "ruff==0.17.5"
MYPY = "mypy==2.4.1"
"""The ``dev`` group pins of generated packages: the ones idsync itself is tested with."""

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# (path in the package, template, which kinds get it)
_FILES: tuple[tuple[str, str, tuple[Kind, ...]], ...] = (
    ("pyproject.toml", "pyproject.toml.j2", KINDS),
    ("README.md", "README.md.j2", KINDS),
    (".gitignore", "gitignore.j2", KINDS),
    ("src/{module}/__init__.py", "package/__init__.py.j2", KINDS),
    ("src/{module}/py.typed", "package/py.typed.j2", KINDS),
    ("src/{module}/settings.py", "package/settings.py.j2", KINDS),
    ("src/{module}/client.py", "package/client.py.j2", KINDS),
    ("src/{module}/plugin.py", "package/plugin.py.j2", KINDS),
    ("src/{module}/source.py", "package/source.py.j2", ("source", "both")),
    ("src/{module}/simulator/__init__.py", "package/simulator/__init__.py.j2", KINDS),
    ("src/{module}/simulator/__main__.py", "package/simulator/__main__.py.j2", KINDS),
    ("src/{module}/simulator/_store.py", "package/simulator/_store.py.j2", KINDS),
    ("src/{module}/simulator/_app.py", "package/simulator/_app.py.j2", KINDS),
    ("tests/conftest.py", "tests/conftest.py.j2", KINDS),
    ("tests/test_contract.py", "tests/test_contract.py.j2", KINDS),
    ("tests/test_sandbox.py", "tests/test_sandbox.py.j2", KINDS),
)


class ScaffoldError(ValueError):
    """The plugin cannot be generated (a bad name or kind, or the directory exists)."""


@dataclass(frozen=True)
class PluginNames:
    """Every name a plugin called ``name`` goes by."""

    name: str
    """The entry point name, used as ``plugin:`` in pipeline files (``acme-hr``)."""

    @property
    def dist(self) -> str:
        """The distribution (``idsync-acme-hr``)."""
        return f"idsync-{self.name}"

    @property
    def module(self) -> str:
        """The import package (``idsync_acme_hr``)."""
        return f"idsync_{self.name.replace('-', '_')}"

    @property
    def prefix(self) -> str:
        """The class name prefix (``AcmeHr``)."""
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def title(self) -> str:
        """The system's name in prose (``Acme Hr``); edit it in the generated code."""
        return " ".join(part.capitalize() for part in self.name.split("-"))

    @property
    def env(self) -> str:
        """The environment variable prefix of the sandbox (``ACME_HR``)."""
        return self.name.replace("-", "_").upper()


def check_name(name: str) -> PluginNames:
    """The names of a plugin called ``name``; raises :class:`ScaffoldError` for a bad one."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"plugin name {name!r} must be lowercase letters and digits, words joined by "
            "single hyphens, starting with a letter (e.g. acme or acme-hr)"
        )
    return PluginNames(name.removeprefix("idsync-"))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("idsync.scaffold", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - generating Python and TOML, not HTML
    )


def new_plugin(name: str, kind: str, directory: Path) -> Path:
    """Write the package ``idsync-<name>`` of the given kind into ``directory``; its path.

    Raises :class:`ScaffoldError` for a bad name or kind, or when the package directory
    exists already (nothing is overwritten).
    """
    names = check_name(name)
    if kind not in KINDS:
        raise ScaffoldError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    root = directory / names.dist
    if root.exists():
        raise ScaffoldError(f"{root} exists already; choose another --dir or name")
    values = {
        "n": names,
        "kind": kind,
        "source": kind in ("source", "both"),
        "target": kind in ("target", "both"),
        "idsync_version": importlib.metadata.version("idsync"),
        "hatchling": HATCHLING,
        "pytest": PYTEST,
        "ruff": RUFF,
        "mypy": MYPY,
    }
    environment = _environment()
    rendered = {
        path.format(module=names.module): environment.get_template(template).render(values)
        for path, template, kinds in _FILES
        if kind in kinds
    }
    for path, text in rendered.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
