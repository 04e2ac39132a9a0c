"""Hand-made inline SVG charts for the shareable HTML report: nothing to fetch, nothing to run.

Each function returns one `<svg>` element as text; every label is escaped. Colours come from one
palette in the order the sides are given, so a side keeps its colour across the report's charts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

PALETTE = ("#1c83e1", "#ff8c1a", "#803df5", "#2b9348", "#d62828", "#6c757d", "#e9c46a")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def side_colors(sides: Sequence[str]) -> dict[str, str]:
    """A colour per side, in the order each first appears.

    >>> side_colors(["a", "b", "a"])
    {'a': '#1c83e1', 'b': '#ff8c1a'}
    """
    unique = list(dict.fromkeys(sides))
    return {side: PALETTE[i % len(PALETTE)] for i, side in enumerate(unique)}


def interval_bars(
    rows: Sequence[tuple[str, float, float, float]], colors: dict[str, str], title: str
) -> str:
    """Horizontal bars of means on a 0..1 scale with their 95% interval as whiskers.

    rows: (label, mean, low, high).
    """
    left, scale, row_h = 130, 380, 30
    height = 40 + row_h * len(rows)
    parts = [_open(left + scale + 90, height, title)]
    parts.append(_text(left, 16, title, weight="bold"))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + tick * scale
        parts.append(_line(x, 26, x, height - 6, "#ddd"))
        parts.append(_text(x, height, f"{tick:g}", anchor="middle", size=10))
    for i, (label, mean, low, high) in enumerate(rows):
        y = 30 + i * row_h
        parts.append(_text(left - 8, y + 15, label, anchor="end"))
        parts.append(
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{_clip(mean) * scale:.1f}" '
            f'height="{row_h - 10}" fill="{colors.get(label, PALETTE[0])}" rx="3">'
            f"<title>{escape(label)}: {mean:.3f} [{low:.3f}, {high:.3f}]</title></rect>"
        )
        x0, x1, mid = left + _clip(low) * scale, left + _clip(high) * scale, y + row_h / 2 - 1
        parts.append(_line(x0, mid, x1, mid, "#222", 1.5))
        parts += [_line(x, mid - 6, x, mid + 6, "#222", 1.5) for x in (x0, x1)]
        parts.append(_text(left + scale + 8, y + 15, f"{mean:.3f}"))
    return "".join(parts) + "</svg>"


def timeline(
    batches: Sequence[tuple[str, date, int]], marks: Sequence[tuple[str, date, str]], title: str
) -> str:
    """Corpus batches (name, day, records) as bars on a time axis, with dated marks (label, day,
    colour): what each side knows, when the index was built."""
    days = [d for _, d, _ in batches] + [d for _, d, _ in marks]
    if not days:
        return ""
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    left, width, height = 30, 640, 120 + 18 * len(marks)
    most = max((n for _, _, n in batches), default=1) or 1

    def x(day: date) -> float:
        return left + (day - first).days / span * width

    parts = [_open(left + width + 40, height, title), _text(left, 16, title, weight="bold")]
    base = 100
    parts.append(_line(left, base, left + width, base, "#999"))
    for name, day, records in batches:
        h = max(records / most * 60, 2)
        parts.append(
            f'<rect class="mark" x="{x(day) - 6:.1f}" y="{base - h:.1f}" width="12" '
            f'height="{h:.1f}" fill="#5b6770"><title>{escape(name)}: {records} records '
            f"({day})</title></rect>"
        )
        parts.append(_text(x(day), base + 14, day.isoformat(), anchor="middle", size=10))
    for i, (label, day, color) in enumerate(marks):  # labelled in a legend: marks can coincide
        parts.append(_line(x(day), 26, x(day), base, color, 2, dash="5 3"))
        parts.append(_line(left, base + 28 + 18 * i, left + 18, base + 28 + 18 * i, color, 2))
        parts.append(_text(left + 24, base + 32 + 18 * i, f"{label}: {day}", color=color))
    return "".join(parts) + "</svg>"


def cost_lines(
    curves: dict[str, list[tuple[int, float]]], colors: dict[str, str], volume: int, title: str
) -> str:
    """Monthly cost against queries per month (log scale), a line per side, a rule at `volume`."""
    points = [p for curve in curves.values() for p in curve]
    if not points:
        return ""
    lo, hi = math.log10(min(v for v, _ in points)), math.log10(max(v for v, _ in points))
    top = max(usd for _, usd in points) or 1.0
    left, width, height, plot_h = 70, 560, 300, 220

    def xy(volume: float, usd: float) -> tuple[float, float]:
        x = left + (math.log10(max(volume, 1)) - lo) / max(hi - lo, 1e-9) * width
        return x, 30 + plot_h - usd / top * plot_h

    parts = [_open(left + width + 150, height, title), _text(left, 16, title, weight="bold")]
    parts.append(_line(left, 30 + plot_h, left + width, 30 + plot_h, "#999"))
    for exp in range(math.ceil(lo), math.floor(hi) + 1):
        x, _ = xy(10**exp, 0)
        parts.append(_text(x, 30 + plot_h + 16, f"{10**exp:,}", anchor="middle", size=10))
    for frac in (0.0, 0.5, 1.0):
        _, y = xy(10**lo, top * frac)
        parts.append(_text(left - 6, y + 4, f"${top * frac:,.2f}", anchor="end", size=10))
    for i, (side, curve) in enumerate(curves.items()):
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in (xy(v, usd) for v, usd in curve))
        color = colors.get(side, PALETTE[0])
        parts.append(
            f'<polyline class="line" points="{line}" fill="none" stroke="{color}" '
            f'stroke-width="2.5"><title>{escape(side)}</title></polyline>'
        )
        parts.append(_text(left + width + 12, 40 + 18 * i, side, color=color))
    rule, _ = xy(volume, 0)
    parts.append(_line(rule, 30, rule, 30 + plot_h, "#555", 1, dash="4 4"))
    parts.append(_text(rule + 4, 42, f"{volume:,} queries/month", size=10))
    parts.append(_text(left + width / 2, height - 4, "queries per month", anchor="middle"))
    return "".join(parts) + "</svg>"


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 12,
    weight: str = "normal",
    color: str = "#222",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT.replace("12", str(size))} '
        f'font-weight="{weight}" fill="{color}">{escape(text)}</text>'
    )


def _line(
    x0: float, y0: float, x1: float, y1: float, color: str, width: float = 1, dash: str = ""
) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{color}" '
        f'stroke-width="{width}"{dashed}/>'
    )


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)
