"""Server-rendered SVG charts: readable on screen and in print, no JavaScript."""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ["#1f4e79", "#4a90c2", "#f2a541", "#6aa84f", "#b85c9e", "#c0504d", "#7f8c8d", "#2bb3a3"]
STATUS_COLOURS = {"available": "#2e8b57", "allocated": "#4a90c2", "picked": "#1f4e79", "in_transit": "#9fb8d0",
                  "quarantined": "#f2a541", "returned": "#b85c9e", "damaged": "#c0504d"}


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}m"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:.0f}"


def stacked_bars(labels: Sequence[str], series: dict[str, Sequence[float]], *, colours: dict[str, str] | None = None,
                 width: int = 640, bar_height: int = 26, title: str = "") -> Markup:
    """Horizontal stacked bars, one per label, with a value at the end of each bar."""
    colours = colours or {}
    left, right, top = 70, 70, 8
    totals = [sum(float(values[i]) for values in series.values()) for i in range(len(labels))]
    scale = (width - left - right) / (max(totals) or 1)
    height = top + len(labels) * (bar_height + 10) + 4
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for row, label in enumerate(labels):
        y = top + row * (bar_height + 10)
        parts.append(f'<text x="{left - 8}" y="{y + bar_height * .68:.1f}" text-anchor="end">{escape(label)}</text>')
        x = float(left)
        for index, (name, values) in enumerate(series.items()):
            w = float(values[row]) * scale
            if w <= 0:
                continue
            colour = colours.get(name, PALETTE[index % len(PALETTE)])
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}">'
                         f'<title>{escape(name)}: {_fmt(float(values[row]))}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_height * .68:.1f}">{_fmt(totals[row])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(names: Sequence[str], colours: dict[str, str] | None = None) -> Markup:
    colours = colours or {}
    items = "".join(f'<span><i style="background:{colours.get(n, PALETTE[i % len(PALETTE)])}"></i>{escape(n.replace("_", " "))}</span>'
                    for i, n in enumerate(names))
    return Markup(f'<div class="legend">{items}</div>')
