"""No module of the core grows past 600 lines.

A module that long holds more than one idea; it is split into modules named for what each
holds (``cli/``, ``config/``, ``engine/``, ``enforce/``, ``plan/`` and the parts of the state
store were split this way), not trimmed by squeezing lines.
"""

from __future__ import annotations

from pathlib import Path

import idsync

LIMIT = 600
"""The most lines one module of ``core/src/idsync`` may have."""

PACKAGE = Path(idsync.__file__).parent


def line_count(path: Path) -> int:
    """Lines in a source file, as ``wc -l`` counts them (a last line without a newline too)."""
    text = path.read_text(encoding="utf-8")
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def oversized(root: Path, limit: int = LIMIT) -> dict[str, int]:
    """``{module path: lines}`` of every Python module below ``root`` over ``limit`` lines."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        lines = line_count(path)
        if lines > limit:
            found[path.relative_to(root).as_posix()] = lines
    return found


def test_no_module_of_the_core_is_over_600_lines() -> None:
    modules = list(PACKAGE.rglob("*.py"))
    assert len(modules) > 50, f"expected the idsync package's modules under {PACKAGE}"
    too_long = oversized(PACKAGE)
    assert not too_long, (
        f"modules over {LIMIT} lines (split each into modules named for the idea each holds): "
        + ", ".join(f"{name} ({lines})" for name, lines in too_long.items())
    )


def test_the_check_counts_lines_as_wc_does(tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text("x = 1\n" * LIMIT, encoding="utf-8")
    (tmp_path / "long.py").write_text("x = 1\n" * LIMIT + "y = 2", encoding="utf-8")
    nested = tmp_path / "part"
    nested.mkdir()
    (nested / "longer.py").write_text("x = 1\n" * (LIMIT + 5), encoding="utf-8")
    assert line_count(tmp_path / "long.py") == LIMIT + 1
    assert oversized(tmp_path) == {"long.py": LIMIT + 1, "part/longer.py": LIMIT + 5}
