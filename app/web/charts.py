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


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float | None]], *,
               colours: dict[str, str] | None = None, band: tuple[int, int] | None = None, band_label: str = "",
               bars: str | None = None, width: int = 640, height: int = 220, title: str = "") -> Markup:
    """Lines over days (None leaves a gap), a zero line when values go negative, an optional shaded band of days
    and an optional series drawn as bars; x labels every week."""
    colours = colours or {}
    left, right, top, bottom = 44, 12, 12, 26
    values = [float(v) for points in series.values() for v in points if v is not None] or [0.0]
    low, high = min(0.0, min(values)), max(0.0, max(values))
    high = high if high > low else low + 1
    step = (width - left - right) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return top + (high - v) * (height - top - bottom) / (high - low)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    if band is not None and band[1] > band[0]:
        parts.append(f'<rect x="{x(band[0]) - step / 2:.1f}" y="{top}" width="{(band[1] - band[0]) * step:.1f}" '
                     f'height="{height - top - bottom}" fill="#fdf1dc"><title>{escape(band_label)}</title></rect>')
    for tick in (low, (low + high) / 2, high):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e3e7ec"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    if low < 0:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#c0504d" '
                     f'stroke-dasharray="4 3"/>')
    every = 7 * max(1, -(-len(labels) // 56))  # a label a week, or a fortnight on long charts
    for i in range(0, len(labels), every):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">{escape(labels[i])}</text>')
    for index, (name, points) in enumerate(series.items()):
        colour = colours.get(name, PALETTE[index % len(PALETTE)])
        if name == bars:
            parts += _bar_marks(points, x, y, step, colour, name)
        else:
            parts += _line_marks(points, x, y, colour, name)
    parts.append("</svg>")
    return Markup("".join(parts))


def _line_marks(points, x, y, colour: str, name: str) -> list[str]:
    runs, current = [], []
    for i, value in enumerate(points):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(f"{x(i):.1f},{y(float(value)):.1f}")
    if current:
        runs.append(current)
    return [f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}">'
            f'<title>{escape(name)}</title></polyline>' for run in runs]


def _bar_marks(points, x, y, step: float, colour: str, name: str) -> list[str]:
    width = max(step * 0.7, 1.0)
    return [f'<rect x="{x(i) - width / 2:.1f}" y="{min(y(float(v)), y(0)):.1f}" width="{width:.1f}" '
            f'height="{abs(y(0) - y(float(v))):.1f}" fill="{colour}" opacity="0.55"><title>{escape(name)}: '
            f'{_fmt(float(v))}</title></rect>' for i, v in enumerate(points) if v]


def _scale(values: Sequence[float], target: float | None) -> tuple[float, float]:
    """The low and high ends of a value axis that shows every value and the target, with a little air."""
    known = [v for v in values if v is not None] + ([target] if target is not None else [])
    if not known:
        return 0.0, 1.0
    low, high = min(known), max(known)
    if low == high:
        low, high = low - (abs(low) * 0.1 or 1), high + (abs(high) * 0.1 or 1)
    air = (high - low) * 0.08
    return (0.0 if low >= 0 and low - air < 0 else low - air), high + air


def _path(points: list[tuple[float, float | None]]) -> str:
    """An SVG path through the points, lifting the pen over gaps (None values)."""
    parts, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(parts)


def sparkline(values: Sequence[float | None], *, target: float | None = None, colour: str = "#1f4e79",
              width: int = 160, height: int = 36, title: str = "") -> Markup:
    """A small trend line with the target as a dashed rule; gaps where nothing was measured."""
    pad = 3
    low, high = _scale(values, target)
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def y(v: float) -> float:
        return height - pad - (v - low) / (high - low) * (height - 2 * pad)

    points = [(pad + i * step, None if v is None else y(float(v))) for i, v in enumerate(values)]
    parts = [f'<svg class="chart sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">']
    if target is not None:
        parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="#7f8c8d" stroke-dasharray="3 3" stroke-width="1"/>')
    parts.append(f'<path d="{_path(points)}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
    last = next(((x, v) for x, v in reversed(points) if v is not None), None)
    if last:
        parts.append(f'<circle cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.5" fill="{colour}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(labels: Sequence[str], values: Sequence[float | None], *, target: float | None = None,
               fmt=None, colour: str = "#1f4e79", width: int = 720, height: int = 240, title: str = "") -> Markup:
    """A line chart over time with value gridlines, the target as a labelled dashed line, and dated ends."""
    fmt = fmt or _fmt
    left, right, top, bottom = 64, 16, 12, 28
    low, high = _scale(values, target)
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / max(1, len(values) - 1)

    def y(v: float) -> float:
        return top + inner_h - (v - low) / (high - low) * inner_h

    parts = [f'<svg class="chart line-chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>']
    for i in range(5):
        value = low + (high - low) * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="#dfe3e8" stroke-width="1"/>'
                     f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    if target is not None:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="#5b6675" stroke-dasharray="6 4" stroke-width="1.2"/>'
                     f'<text x="{width - right}" y="{y(target) - 4:.1f}" text-anchor="end">target {escape(fmt(target))}</text>')
    points = [(left + i * step, None if v is None else y(float(v))) for i, v in enumerate(values)]
    parts.append(f'<path d="{_path(points)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for (x, py), label, v in zip(points, labels, values):
        if py is not None:
            parts.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="2" fill="{colour}"><title>{escape(label)}: '
                         f'{escape(fmt(float(v)))}</title></circle>')
    if labels:
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(labels[0])}</text>'
                     f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{escape(labels[-1])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


STANDING_COLOURS = {"ok": "#1e7a46", "warn": "#9a6200", "bad": "#b42318", "none": "#7f8c8d"}


def wave_gantt(waves: Sequence[dict], cutoffs: Sequence[tuple[str, float]], *, day_start: float, day_end: float,
               pack_minutes: float, width: int = 760, title: str = "Waves") -> Markup:
    """A Gantt of waves: one bar per wave (pickers on it), its predicted packed time, and each cut-off line.

    `waves`: {label, start, end, pickers, orders, late} with times in minutes after midnight;
    `cutoffs`: (label, minute). Waves holding late orders are drawn in red.
    """
    left, right, top, row = 110, 20, 30, 30
    span = max(day_end - day_start, 1)
    height = top + len(waves) * row + 24
    x = lambda minute: left + (minute - day_start) / span * (width - left - right)  # noqa: E731
    parts = [f'<svg class="chart gantt" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for hour in range(int(day_start // 60), int(day_end // 60) + 1):
        hx = x(hour * 60)
        parts.append(f'<line x1="{hx:.1f}" y1="{top - 6}" x2="{hx:.1f}" y2="{height - 20}" stroke="#e3e7ec"/>'
                     f'<text x="{hx:.1f}" y="{height - 6}" text-anchor="middle">{hour:02d}:00</text>')
    for index, wave in enumerate(waves):
        y = top + index * row
        colour = "#c0504d" if wave["late"] else ("#1f4e79" if wave["orders"] else "#c9d3de")
        bx, bw = x(wave["start"]), max(x(wave["end"]) - x(wave["start"]), 2)
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(wave["label"])}</text>'
                     f'<rect x="{bx:.1f}" y="{y + 4}" width="{bw:.1f}" height="{row - 10}" rx="3" fill="{colour}">'
                     f'<title>{escape(wave["label"])}: {wave["orders"]} orders, {wave["pickers"]} pickers, '
                     f'{wave["late"]} at risk</title></rect>'
                     f'<text x="{bx + 6:.1f}" y="{y + 17}" style="fill:#fff">{wave["pickers"]}p · {wave["orders"]}</text>')
        if wave["orders"]:
            packed = x(wave["end"] + pack_minutes)
            parts.append(f'<line x1="{x(wave["end"]):.1f}" y1="{y + row / 2:.1f}" x2="{packed:.1f}" y2="{y + row / 2:.1f}" '
                         f'stroke="{colour}" stroke-dasharray="3 2"/><circle cx="{packed:.1f}" cy="{y + row / 2:.1f}" r="3.5" '
                         f'fill="{colour}"><title>packed by about this time</title></circle>')
    for index, (label, minute) in enumerate(cutoffs):
        cx = x(minute)
        parts.append(f'<line x1="{cx:.1f}" y1="{top - 6}" x2="{cx:.1f}" y2="{height - 20}" stroke="#f2a541" '
                     f'stroke-width="2"/><text x="{cx:.1f}" y="{12 + (index % 2) * 11}" text-anchor="middle" '
                     f'fill="#9a6412">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def pick_route_map(*, aisles: int, aisle_length: float, aisle_spacing: float, cross_aisles: Sequence[float],
                   stops: Sequence[tuple[int, float, str]], route: Sequence[tuple[int, float]], width: int = 640,
                   title: str = "Pick route") -> Markup:
    """The aisles seen from above, the cross aisles, the numbered pick points and the walked route (depot bottom left)."""
    pad = 28
    scale = min((width - 2 * pad) / max((aisles - 1) * aisle_spacing, 1), 12.0)
    height_scale = min(340 / max(aisle_length, 1), 14.0)
    height = int(aisle_length * height_scale + 2 * pad)
    px = lambda aisle: pad + aisle * aisle_spacing * scale  # noqa: E731
    py = lambda position: height - pad - position * height_scale  # noqa: E731
    parts = [f'<svg class="chart route-map" viewBox="0 0 {int(px(aisles - 1) + pad)} {height}" role="img" '
             f'aria-label="{escape(title)}">']
    for c in cross_aisles:
        parts.append(f'<line x1="{px(0) - 10:.1f}" y1="{py(c):.1f}" x2="{px(aisles - 1) + 10:.1f}" y2="{py(c):.1f}" '
                     f'stroke="#e3e7ec" stroke-width="8"/>')
    for aisle in range(aisles):
        parts.append(f'<line x1="{px(aisle):.1f}" y1="{py(0):.1f}" x2="{px(aisle):.1f}" y2="{py(aisle_length):.1f}" '
                     f'stroke="#c9d3de" stroke-width="4"/><text x="{px(aisle):.1f}" y="{height - 6}" '
                     f'text-anchor="middle">{aisle}</text>')
    points = " ".join(f"{px(a):.1f},{py(p):.1f}" for a, p in route)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f4e79" stroke-width="2.2" stroke-linejoin="round"/>')
    parts.append(f'<rect x="{px(0) - 7:.1f}" y="{py(0) - 7:.1f}" width="14" height="14" fill="#2e8b57">'
                 f'<title>Depot</title></rect>')
    for aisle, position, label in stops:
        parts.append(f'<circle cx="{px(aisle):.1f}" cy="{py(position):.1f}" r="8" fill="#f2a541" stroke="#fff"/>'
                     f'<text x="{px(aisle):.1f}" y="{py(position) + 3.5:.1f}" text-anchor="middle" '
                     f'font-size="9" fill="#1c2430">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_columns(labels: Sequence[str], series: dict[str, Sequence[float]], *, colours: dict[str, str] | None = None,
                    width: int = 640, height: int = 220, title: str = "") -> Markup:
    """Vertical columns side by side for each label (months, channels), from a zero line that allows losses."""
    colours = colours or {}
    left, right, top, bottom = 56, 8, 10, 26
    values = [float(v) for vs in series.values() for v in vs] or [0.0]
    high, low = max(max(values), 0.0), min(min(values), 0.0)
    scale = (height - top - bottom) / ((high - low) or 1)
    zero = top + high * scale
    group = (width - left - right) / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<line x1="{left}" x2="{width - right}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#9aa5b1"/>',
             f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{_fmt(high)}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">{_fmt(low)}</text>']
    for row, label in enumerate(labels):
        x0 = left + row * group + group * 0.1
        for index, (name, vs) in enumerate(series.items()):
            value = float(vs[row])
            y, h = (zero - value * scale, value * scale) if value >= 0 else (zero, -value * scale)
            colour = colours.get(name, PALETTE[index % len(PALETTE)])
            parts.append(f'<rect x="{x0 + index * bar:.1f}" y="{y:.1f}" width="{bar * 0.92:.1f}" height="{max(h, 0.5):.1f}" '
                         f'fill="{colour}"><title>{escape(label)} · {escape(name)}: {_fmt(value)}</title></rect>')
        parts.append(f'<text x="{x0 + group * 0.4:.1f}" y="{height - 8}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def vertical_bars(labels: Sequence[str], values: Sequence[float], *, width: int = 640, height: int = 220,
                  colour: str = PALETTE[0], title: str = "", value_format=_fmt, label_every: int = 1) -> Markup:
    """One column per label, its value above it; every `label_every`-th label is written under the axis."""
    left, right, top, bottom = 12, 12, 18, 34
    count = max(len(values), 1)
    slot = (width - left - right) / count
    scale = (height - top - bottom) / (max((float(v) for v in values), default=0) or 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#c9d1db"/>']
    for index, (label, value) in enumerate(zip(labels, values)):
        h = float(value) * scale
        x = left + index * slot + slot * 0.15
        y = height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}">'
                     f'<title>{escape(label)}: {escape(value_format(value))}</title></rect>')
        if value:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle">{escape(value_format(value))}</text>')
        if index % max(label_every, 1) == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(labels: Sequence[str], values: Sequence[float], *, width: int = 640, bar_height: int = 20,
                    colour: str = PALETTE[1], title: str = "", value_format=_fmt, label_width: int = 150) -> Markup:
    """One bar per label, longest first as given, with the formatted value at the end of each bar."""
    right, top = 70, 6
    scale = (width - label_width - right) / (max((float(v) for v in values), default=0) or 1)
    height = top + len(labels) * (bar_height + 8) + 4
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for row, (label, value) in enumerate(zip(labels, values)):
        y = top + row * (bar_height + 8)
        w = max(float(value) * scale, 0)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar_height * .7:.1f}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}">'
                     f'<title>{escape(label)}: {escape(value_format(value))}</title></rect>'
                     f'<text x="{label_width + w + 6:.1f}" y="{y + bar_height * .7:.1f}">{escape(value_format(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def as_percent(value: float) -> str:
    return f"{float(value) * 100:.1f}%"
