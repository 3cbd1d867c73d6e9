"""Dependencies are declared the way a library should: compatible ranges in every package's
``[project].dependencies``, exact versions only in ``constraints.txt`` (what ``make`` installs).

The proof is pip's own resolver, offline: a local index of stand-in wheels (metadata only)
holds the core and every plugin with exactly the requirements their ``pyproject.toml``
declares, every dependency at the version ``constraints.txt`` pins *and* at another patch
release, and a package that needs that other patch release of every dependency the core
shares. ``pip install --dry-run`` of all of them must succeed, choosing the other releases.
The same resolve with the core pinning exactly (``==``) must fail: that is what a third-party
plugin met before, and what this test would catch again.

Which versions are tested is said in ``docs/contributing/architecture.md``: the pins. The
lower bounds stay within the pinned minor series (checked below), so every release a range
admits below the pin is a patch release of the tested one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(
    sorted(
        (
            "core",
            *(f"plugins/{p.parent.name}" for p in (ROOT / "plugins").glob("*/pyproject.toml")),
        ),
        key=lambda p: (p != "core", p),
    )
)


def _project(package: str) -> dict[str, object]:
    data = tomllib.loads((ROOT / package / "pyproject.toml").read_text(encoding="utf-8"))
    project: dict[str, object] = data["project"]
    return project


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version.strip())
    return pins


def _requirements(project: dict[str, object]) -> list[tuple[Requirement, str | None]]:
    """``(requirement, extra or None)`` for every dependency a package declares."""
    out = [(Requirement(r), None) for r in project.get("dependencies", [])]  # type: ignore[attr-defined]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})  # type: ignore[assignment]
    for extra, requirements in extras.items():
        out += [(Requirement(r), extra) for r in requirements]
    return out


def _other_patch(version: Version) -> Version:
    major, minor, micro = (*version.release, 0, 0)[:3]
    return Version(f"{major}.{minor}.{micro + 1}")


def _wheel(index: Path, name: str, version: str, requires: list[str], extras: list[str]) -> None:
    """A wheel that holds nothing but its metadata: enough for pip to resolve it."""
    dist = f"{re.sub(r'[-.]+', '_', name)}-{version}"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    files = {
        f"{dist}.dist-info/METADATA": "\n".join(lines) + "\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = (
        "".join(f"{p},,\n" for p in files) + f"{dist}.dist-info/RECORD,,\n"
    )
    with zipfile.ZipFile(index / f"{dist}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def _index(tmp: Path, *, exact_core: bool) -> tuple[Path, dict[str, Version]]:
    """The stand-in index; returns it and the other patch release of each shared dependency."""
    index = tmp / ("exact" if exact_core else "ranges")
    index.mkdir()
    pins = _pins()
    others: dict[str, Version] = {}
    for package in PACKAGES:
        project = _project(package)
        requires, extras = [], sorted(project.get("optional-dependencies", {}))  # type: ignore[call-overload]
        for requirement, extra in _requirements(project):
            name = canonicalize_name(requirement.name)
            if name != "idsync":
                pinned = pins[name]
                others[name] = _other_patch(pinned)
                if exact_core:
                    requirement.specifier = type(requirement.specifier)(f"=={pinned}")
            marker = f'; extra == "{extra}"' if extra else ""
            requires.append(f"{requirement}{marker}")
        _wheel(index, str(project["name"]), str(project["version"]), requires, extras)
    for name, other in others.items():
        _wheel(index, name, str(pins[name]), [], [])
        _wheel(index, name, str(other), [], [])
    needs = [f"{name}=={other}" for name, other in others.items()]
    _wheel(index, "needs-other-patches", "1.0", needs, [])
    return index, others


def _with_extras(package: str) -> str:
    """The package's name with every extra it declares: ``idsync[console,postgres,sandbox]``."""
    project = _project(package)
    extras = sorted(project.get("optional-dependencies", {}))  # type: ignore[call-overload]
    return f"{project['name']}[{','.join(extras)}]" if extras else str(project["name"])


def _resolve(index: Path, report: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}  # only this index, no site config
    env.pop("PIP_CONSTRAINT", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            str(index),
            "--disable-pip-version-check",
            "--quiet",
            "--report",
            str(report),
            *map(_with_extras, PACKAGES),
            "needs-other-patches",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_core_and_the_plugins_install_next_to_other_patch_releases(tmp_path: Path) -> None:
    index, others = _index(tmp_path, exact_core=False)
    assert {"pydantic", "httpx", "sqlalchemy", "pluggy", "starlette"} <= set(others)
    report = tmp_path / "report.json"
    result = _resolve(index, report)
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = {
        canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"])
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert {name: chosen[name] for name in others} == others
    names = {canonicalize_name(str(_project(p)["name"])) for p in PACKAGES}
    assert names >= {"idsync", "idsync-afas", "idsync-topdesk", "idsync-helloid", "idsync-scim"}
    assert names <= set(chosen)


def test_exact_pins_in_the_core_would_refuse_them(tmp_path: Path) -> None:
    index, _ = _index(tmp_path, exact_core=True)
    result = _resolve(index, tmp_path / "report.json")
    assert result.returncode != 0
    assert "ResolutionImpossible" in result.stderr or "conflict" in result.stderr.lower()


@pytest.mark.parametrize("package", PACKAGES)
def test_ranges_are_compatible_and_their_floors_within_the_tested_minor_series(
    package: str,
) -> None:
    pins = _pins()
    for requirement, _ in _requirements(_project(package)):
        name = canonicalize_name(requirement.name)
        specifier = requirement.specifier
        assert not any(s.operator in ("==", "===") for s in specifier), (
            f"{package}: {requirement} is an exact pin; pins go in constraints.txt"
        )
        assert any(s.operator == "<" for s in specifier), f"{package}: {requirement} has no ceiling"
        if name == "idsync":
            continue  # the plugins' range of the core in this repository
        pinned = pins[name]
        assert pinned in specifier, f"{package}: {requirement} excludes the tested {pinned}"
        (floor,) = [Version(s.version) for s in specifier if s.operator == ">="]
        series = Version(f"{pinned.major}.{pinned.minor}")
        assert series <= floor <= pinned, (
            f"{package}: {requirement}: the floor {floor} is outside the tested series "
            f"{series} (pinned {pinned}); raise it to that series, or test the floor"
        )
