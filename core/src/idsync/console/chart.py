"""The overview's chart: actions per run over time, as an inline SVG (no script needed)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

__all__ = ["KIND_COLORS", "actions_chart"]

KIND_COLORS = {
    "create": "#2e7d32",
    "link": "#66bb6a",
    "correlate": "#66bb6a",
    "update": "#1565c0",
    "enable": "#00897b",
    "grant": "#7e57c2",
    "resource": "#9e9e9e",
    "revoke": "#f9a825",
    "disable": "#ef6c00",
    "delete": "#6d4c41",
    "failed": "#c62828",
}
_WIDTH, _HEIGHT, _LEFT, _BOTTOM = 600, 160, 36, 18


def _done(run: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, dict[str, int]] = run.get("counts") or {}
    done = counts.get("dry-run" if run.get("dry_run") else "done", {})
    out = {k: int(n) for k, n in done.items() if n}
    failed = sum(int(n) for n in counts.get("failed", {}).values())
    if failed:
        out["failed"] = failed
    return out


def actions_chart(runs: list[dict[str, Any]]) -> Markup:
    """Stacked bars, one per run (oldest left): the actions it did by kind, failures on top."""
    if not runs:
        return Markup('<p class="muted">no runs yet</p>')
    totals = [_done(r) for r in runs]
    top = max([sum(t.values()) for t in totals] + [1])
    plot_w, plot_h = _WIDTH - _LEFT, _HEIGHT - _BOTTOM
    step = plot_w / len(runs)
    bar = min(max(2.0, step * 0.7), 28.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="actions per run, the last {len(runs)} runs">',
        f'<line x1="{_LEFT}" y1="{plot_h}" x2="{_WIDTH}" y2="{plot_h}" stroke="#999"/>',
        f'<text x="{_LEFT - 4}" y="10" text-anchor="end" class="axis">{top}</text>',
        f'<text x="{_LEFT - 4}" y="{plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    label_every = max(1, len(runs) // 10)
    for i, (run, counts) in enumerate(zip(runs, totals, strict=True)):
        x = _LEFT + i * step + (step - bar) / 2
        y = float(plot_h)
        what = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do"
        title = escape(f"run {run['id']} ({run['command']}, {run['status']}): {what}")
        parts.append(f"<g><title>{title}</title>")
        order = [k for k in KIND_COLORS if k in counts] + sorted(set(counts) - set(KIND_COLORS))
        for kind in order:
            h = counts[kind] / top * (plot_h - 4)
            y -= h
            color = KIND_COLORS.get(kind, "#607d8b")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{color}"/>'
            )
        if not counts:
            parts.append(
                f'<rect x="{x:.1f}" y="{plot_h - 1}" width="{bar:.1f}" height="1" fill="#bbb"/>'
            )
        parts.append("</g>")
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{_HEIGHT - 4}" text-anchor="middle" '
                f'class="axis">{int(run["id"])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it is a number or escaped
