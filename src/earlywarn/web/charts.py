"""Charts drawn on the server as SVG: they print, need no script and no other origin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from earlywarn.framework.config_schemas import LevelThresholds
from earlywarn.web.brief import HistoryPoint

# Pale tints of the map's level colours: the bands sit behind the line and must not drown it.
BAND_TINTS = {
    "low": "#fffdf0",
    "concern": "#fff1c9",
    "warning": "#fbd9c0",
    "emergency": "#e9cfc3",
}


def history_chart(
    points: Sequence[HistoryPoint],
    levels: LevelThresholds,
    *,
    width: int = 720,
    height: int = 260,
) -> str:
    """The composite over time on the level bands, as an accessible SVG string."""
    left, right, top, bottom = 44, 90, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    rated = [p for p in points if p.composite is not None]
    y_max = max(1.0 if not rated else min(1.0, max(p.composite or 0 for p in rated) + 0.15), 0.7)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    first = points[0].as_of if points else date.today()
    last = points[-1].as_of if points else first
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + plot_w * (day - first).days / span

    bounds = [
        ("low", 0.0, levels.concern),
        ("concern", levels.concern, levels.warning),
        ("warning", levels.warning, levels.emergency),
        ("emergency", levels.emergency, y_max),
    ]
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="history-title history-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="history-title">Composite risk score over time, with the level bands</title>',
        f'<desc id="history-desc">{len(rated)} scored dates from {first.isoformat()} to '
        f"{last.isoformat()}; the table below the chart lists every value.</desc>",
    ]
    for name, low, high in bounds:
        if low >= y_max:
            continue
        high = min(high, y_max)
        parts.append(
            f'<rect x="{left}" y="{y(high):.1f}" width="{plot_w}" height="{y(low) - y(high):.1f}" '
            f'fill="{BAND_TINTS[name]}" />'
            f'<text x="{left + plot_w + 6}" y="{(y(low) + y(high)) / 2 + 4:.1f}" '
            f'class="band">{name}</text>'
        )
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        if tick <= y_max:
            parts.append(
                f'<line x1="{left - 4}" x2="{left}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                f'stroke="#555"/><text x="{left - 7}" y="{y(tick) + 4:.1f}" '
                f'text-anchor="end" class="tick">{tick:.1f}</text>'
            )
    years = sorted({p.as_of.year for p in points})
    step = max(1, len(years) // 8)
    for year in years[::step]:
        day = date(year, 1, 1)
        if day < first:  # the first year's label would sit on the next one
            continue
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - 8}" text-anchor="middle" class="tick">'
            f"{year}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="#555"/><line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" '
        f'stroke="#555"/>'
    )
    if len(rated) > 1:
        line = " ".join(f"{x(p.as_of):.1f},{y(p.composite or 0):.1f}" for p in rated)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#0b2e4f" stroke-width="2"/>')
    for p in rated:
        label = escape(f"{p.as_of.isoformat()}: {p.composite:.3f} ({p.level})")
        parts.append(
            f'<circle cx="{x(p.as_of):.1f}" cy="{y(p.composite or 0):.1f}" r="3.5" '
            f'fill="#0b2e4f" class="point"><title>{label}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
