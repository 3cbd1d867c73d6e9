"""The plugin generator behind ``idsync new-plugin``: a complete, working plugin package.

``new_plugin("acme", "target", Path("."))`` writes ``./idsync-acme``, laid out as the
tutorial's plugin: a pyproject with the entry point and a compatible ``idsync`` range, a
settings model, the hook implementations with their contract in comments, an HTTP client, a
simulator of a small REST API (a starlette app in :class:`idsync.sandbox.simulator.Simulated`, with the
``idsync_sandbox`` hook), tests that run the contract kit (:mod:`idsync.testing`) against that
simulator with the tutorial's fixture names, and a README. The package installs and its tests
pass as generated; the author then replaces the simulated API with their vendor's real one,
keeping the tests green. With ``simulator="none"`` there is no simulator: the tests run
against a live endpoint named in environment variables.

The templates (Jinja2) are package data in ``idsync/sandbox/scaffold/templates``.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

__all__ = [
    "ACRONYMS",
    "HATCHLING",
    "KINDS",
    "MYPY",
    "PYTEST",
    "RUFF",
    "SIMULATORS",
    "PluginNames",
    "ScaffoldError",
    "check_name",
    "compatible_range",
    "new_plugin",
]

Kind = Literal["source", "target", "both"]
KINDS: tuple[Kind, ...] = ("source", "target", "both")
SIMULATORS = ("minimal", "none")
"""``minimal``: a simulator of a small REST API to develop against; ``none``: no simulator,
the tests run against a live endpoint."""

HATCHLING = "hatchling>=1.27,<2"
"""The build backend of generated packages."""
PYTEST = "pytest>=9.2,<10"
RUFF = "ruff>=0.17.5,<0.18"
MYPY = "mypy>=2.4,<3"
"""The ``dev`` group of generated packages: ranges that hold what idsync is tested with."""

ACRONYMS = frozenset(
    [
        "ad",
        "adp",
        "afas",
        "api",
        "crm",
        "erp",
        "hr",
        "hris",
        "iam",
        "id",
        "idp",
        "it",
        "ict",
        "ldap",
        "oidc",
        "rest",
        "saml",
        "sap",
        "scim",
        "sql",
        "sso",
    ]
)
"""Words written in capitals in a system's name: ``scim`` is SCIM, ``acme-hr`` is Acme HR."""

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# (path in the package, template, which kinds get it, with a simulator only)
_FILES: tuple[tuple[str, str, tuple[Kind, ...], bool], ...] = (
    ("pyproject.toml", "pyproject.toml.j2", KINDS, False),
    ("README.md", "README.md.j2", KINDS, False),
    (".gitignore", "gitignore.j2", KINDS, False),
    ("src/{module}/__init__.py", "package/__init__.py.j2", KINDS, False),
    ("src/{module}/py.typed", "package/py.typed.j2", KINDS, False),
    ("src/{module}/settings.py", "package/settings.py.j2", KINDS, False),
    ("src/{module}/client.py", "package/client.py.j2", KINDS, False),
    ("src/{module}/plugin.py", "package/plugin.py.j2", KINDS, False),
    ("src/{module}/source.py", "package/source.py.j2", ("source", "both"), False),
    ("src/{module}/simulator.py", "package/simulator.py.j2", KINDS, True),
    ("tests/conftest.py", "tests/conftest.py.j2", KINDS, False),
    ("tests/test_plugin.py", "tests/test_plugin.py.j2", KINDS, False),
    ("tests/test_contract.py", "tests/test_contract.py.j2", KINDS, False),
)


class ScaffoldError(ValueError):
    """The plugin cannot be generated (a bad name or kind, or the directory exists)."""


def _word(word: str) -> str:
    return word.upper() if word in ACRONYMS else word.capitalize()


@dataclass(frozen=True)
class PluginNames:
    """Every name a plugin called ``name`` goes by."""

    name: str
    """The entry point name, used as ``plugin:`` in pipeline files (``acme-hr``)."""
    display: str | None = None
    """The system's name in prose as the author gave it (``--title``), if any."""

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
        """The class name prefix: the title's words, acronyms in capitals (``AcmeHR``,
        ``SCIM``), as PEP 8 writes ``HTTPServerError``."""
        words = re.findall(r"[A-Za-z0-9]+", self.title)
        prefix = "".join(w if w[0].isupper() else w.capitalize() for w in words)
        return prefix if prefix[:1].isalpha() else f"P{prefix}"

    @property
    def title(self) -> str:
        """The system's name in prose: ``--title``, else the name's words with known acronyms
        in capitals (``scim`` → SCIM, ``acme-hr`` → Acme HR)."""
        if self.display:
            return self.display
        return " ".join(_word(part) for part in self.name.split("-"))

    @property
    def env(self) -> str:
        """The environment variable prefix of the sandbox (``ACME_HR``)."""
        return self.name.replace("-", "_").upper()


def check_name(name: str, title: str | None = None) -> PluginNames:
    """The names of a plugin called ``name``; raises :class:`ScaffoldError` for a bad one."""
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"plugin name {name!r} must be lowercase letters and digits, words joined by "
            "single hyphens, starting with a letter (e.g. acme or acme-hr)"
        )
    if title is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9 .&+-]*", title.strip()):
        raise ScaffoldError(
            f"title {title!r} must start with a letter and hold letters, digits, spaces and "
            ". & + - only (e.g. 'SCIM' or 'Acme HR')"
        )
    return PluginNames(name.removeprefix("idsync-"), title.strip() if title else None)


def compatible_range(version: str) -> str:
    """The versions of idsync a generated plugin accepts, from the installed one: the same
    minor release line before 1.0 (``>=0.1,<0.2``), the same major after (``>=1.2,<2``)."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("idsync.sandbox.scaffold", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - generating Python and TOML, not HTML
    )


def new_plugin(
    name: str,
    kind: str,
    directory: Path,
    *,
    simulator: str = "minimal",
    title: str | None = None,
) -> Path:
    """Write the package ``idsync-<name>`` of the given kind into ``directory``; its path.

    ``simulator`` is ``minimal`` (a simulator of a small REST API to develop against) or
    ``none``; ``title`` the system's name in prose (default: from the name, acronyms such as
    SCIM in capitals). Raises :class:`ScaffoldError` for a bad name, title, kind or simulator,
    or when the package directory exists already (nothing is overwritten).
    """
    names = check_name(name, title)
    if kind not in KINDS:
        raise ScaffoldError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if simulator not in SIMULATORS:
        raise ScaffoldError(f"simulator {simulator!r} is not one of {', '.join(SIMULATORS)}")
    root = directory / names.dist
    if root.exists():
        raise ScaffoldError(f"{root} exists already; choose another --dir or name")
    values = {
        "n": names,
        "kind": kind,
        "source": kind in ("source", "both"),
        "target": kind in ("target", "both"),
        "simulator": simulator != "none",
        "idsync_range": compatible_range(importlib.metadata.version("idsync")),
        "hatchling": HATCHLING,
        "pytest": PYTEST,
        "ruff": RUFF,
        "mypy": MYPY,
    }
    environment = _environment()
    rendered = {
        path.format(module=names.module): environment.get_template(template).render(values)
        for path, template, kinds, simulated in _FILES
        if kind in kinds and (simulator != "none" or not simulated)
    }
    for path, text in rendered.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
