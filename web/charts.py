"""Small server-side SVG charts (圖表) for the status pages: bar, stacked bar, histogram and a
line for cumulative rates. Each returns an inline <svg> (allowed by the CSP, no script) with a
<title> and <desc> for screen readers and a <title> on every bar or point, so the numbers are
there for whoever cannot see the shapes. Every text is escaped; the output is well-formed XML.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "'Noto Sans TC', 'PingFang TC', 'Microsoft JhengHei', sans-serif"
# Distinguishable colours (Okabe–Ito first, then muted tones), for series in a fixed order.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999",
           "#332288", "#88ccee", "#44aa99", "#117733", "#aa4499", "#882255", "#ddcc77", "#661100")
BAR_COLOUR = "#1f4e79"
PLOT_HEIGHT = 180
TOP, BOTTOM, LEFT, RIGHT = 24, 48, 48, 16


@dataclass(frozen=True)
class Guide:
    """A horizontal reference line (e.g. the 80 % band) at `value`."""

    value: float
    label: str
    colour: str = "#b00020"


def num(value: float) -> str:
    """A coordinate or value as SVG prints it: one decimal at most, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content, *, anchor: str = "middle", size: int = 12,
          colour: str = "#1d1d1f", extra: str = "") -> str:
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{colour}"{extra}>{escape(content)}</text>')


def _short(label: str, room: float, size: int = 12) -> str:
    """A label cut to fit `room` pixels (CJK glyphs are about one em wide); the full text stays in
    the bar's <title>."""
    fits = max(1, int(room // (size * 0.95)))
    return label if text_width(label, size) <= room else label[:max(1, fits - 1)] + "…"


def text_width(label: str, size: int = 12) -> float:
    """The width in pixels of `label` at font `size`, estimated: a CJK glyph is one em, others
    0.6 em (no font metrics on the server)."""
    return sum(size if ord(ch) > 0x2e80 else size * 0.6 for ch in label)


def _svg(width: float, height: float, title: str, desc: str, body: list[str]) -> Markup:
    content = "".join(body)
    uid = "c" + hashlib.sha1(f"{title}|{desc}|{content}".encode()).hexdigest()[:10]
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" viewBox="0 0 {num(width)} {num(height)}" '
        f'width="{num(width)}" height="{num(height)}" style="max-width:100%;height:auto" '
        f'font-family="{FONT}">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
        f"{content}</svg>")


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _axis(width: float, top: float, bottom: float, maximum: float, fmt: Callable[[float], str],
          *, whole: bool = False) -> list[str]:
    """Grid lines at 0, half and the top; `whole` (counts): no line at a fractional half."""
    out = []
    for fraction in (0, 0.5, 1):
        if whole and fraction == 0.5 and (maximum / 2) % 1:
            continue
        y = bottom - (bottom - top) * fraction
        out.append(f'<line x1="{LEFT}" y1="{num(y)}" x2="{num(width - RIGHT)}" y2="{num(y)}" '
                   f'stroke="#ddd" stroke-width="1"/>')
        out.append(_text(LEFT - 6, y + 4, fmt(maximum * fraction), anchor="end", size=11, colour="#666"))
    return out


def _slot(count: int) -> float:
    return max(28.0, min(64.0, 640.0 / max(count, 1)))


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, max_value: float | None = None,
              fmt: Callable[[float], str] = lambda v: num(v), colours: Sequence[str] | None = None,
              guides: Sequence[Guide] = (), whole: bool = False, description: str | None = None) -> Markup:
    """Vertical bars, one per (label, value); a bar's height is value ÷ max_value of the plot.
    `colours` (one per bar) e.g. for bands; `guides` draw reference lines."""
    count = len(bars)
    slot = _slot(count)
    width = LEFT + RIGHT + slot * max(count, 1)
    height = TOP + PLOT_HEIGHT + BOTTOM
    bottom = TOP + PLOT_HEIGHT
    maximum = max_value if max_value else _nice_max(max((v for _, v in bars), default=0))
    body = _axis(width, TOP, bottom, maximum, fmt, whole=whole)
    for index, (label, value) in enumerate(bars):
        h = PLOT_HEIGHT * min(max(value, 0) / maximum, 1) if maximum else 0
        x = LEFT + slot * index + slot * 0.15
        colour = colours[index] if colours else BAR_COLOUR
        body.append(f'<rect class="bar" x="{num(x)}" y="{num(bottom - h)}" width="{num(slot * 0.7)}" '
                    f'height="{num(h)}" fill="{colour}" data-value="{escape(num(value))}">'
                    f"<title>{escape(label)}：{escape(fmt(value))}</title></rect>")
        body.append(_text(x + slot * 0.35, bottom - h - 4, fmt(value), size=11))
        body.append(_text(x + slot * 0.35, bottom + 16, _short(label, slot - 2), size=12))
    for guide in guides:
        y = bottom - PLOT_HEIGHT * min(guide.value / maximum, 1)
        body.append(f'<line class="guide" x1="{LEFT}" y1="{num(y)}" x2="{num(width - RIGHT)}" '
                    f'y2="{num(y)}" stroke="{guide.colour}" stroke-dasharray="4 3" stroke-width="1">'
                    f"<title>{escape(guide.label)}</title></line>")
        body.append(_text(width - RIGHT, y - 3, guide.label, anchor="end", size=10, colour=guide.colour))
    if not bars:
        body.append(_text(width / 2, TOP + PLOT_HEIGHT / 2, "尚無資料", colour="#666"))
    desc = description or "；".join(f"{label}：{fmt(value)}" for label, value in bars) or "尚無資料"
    return _svg(width, height, title, desc, body)


def histogram(title: str, buckets: Sequence[tuple[str, int]], *, unit: str = "件",
              description: str | None = None) -> Markup:
    """Counts per bucket (labels in order), drawn as adjoining bars."""
    count = len(buckets)
    slot = _slot(count)
    width = LEFT + RIGHT + slot * max(count, 1)
    height = TOP + PLOT_HEIGHT + BOTTOM
    bottom = TOP + PLOT_HEIGHT
    maximum = _nice_max(max((v for _, v in buckets), default=0))
    body = _axis(width, TOP, bottom, maximum, lambda v: num(v), whole=True)
    for index, (label, value) in enumerate(buckets):
        h = PLOT_HEIGHT * value / maximum
        x = LEFT + slot * index
        body.append(f'<rect class="bar" x="{num(x)}" y="{num(bottom - h)}" width="{num(slot)}" '
                    f'height="{num(h)}" fill="{BAR_COLOUR}" stroke="#fff" stroke-width="1" '
                    f'data-value="{value}"><title>{escape(label)}：{value} {escape(unit)}</title></rect>')
        if value:
            body.append(_text(x + slot / 2, bottom - h - 4, str(value), size=11))
        body.append(_text(x + slot / 2, bottom + 16, _short(label, slot - 2), size=11))
    desc = description or "；".join(f"{label}：{value} {unit}" for label, value in buckets) or "尚無資料"
    return _svg(width, height, title, desc, body)


def stacked_bar_chart(title: str, categories: Sequence[str],
                      series: Sequence[tuple[str, Sequence[float]]], *,
                      colours: Sequence[str] | None = None, unit: str = "件",
                      description: str | None = None) -> Markup:
    """One bar per category, stacked by series (name, one value per category), with a legend.
    Series that are zero everywhere are left out of the bars and the legend."""
    shown = [(i, name, values) for i, (name, values) in enumerate(series) if any(values)]
    colours = colours or PALETTE
    count = len(categories)
    slot = _slot(count)
    legend_rows = (len(shown) + 3) // 4
    width = max(LEFT + RIGHT + slot * max(count, 1), 480)
    bottom = TOP + PLOT_HEIGHT
    height = bottom + BOTTOM + legend_rows * 18
    totals = [sum(values[c] for _, _, values in shown) for c in range(count)]
    maximum = _nice_max(max(totals, default=0))
    body = _axis(width, TOP, bottom, maximum, lambda v: num(v), whole=True)
    for c, category in enumerate(categories):
        x = LEFT + slot * c + slot * 0.15
        y = float(bottom)
        for i, name, values in shown:
            value = values[c]
            if not value:
                continue
            h = PLOT_HEIGHT * value / maximum
            y -= h
            body.append(f'<rect class="segment" x="{num(x)}" y="{num(y)}" width="{num(slot * 0.7)}" '
                        f'height="{num(h)}" fill="{colours[i % len(colours)]}" data-value="{num(value)}">'
                        f"<title>{escape(category)}・{escape(name)}：{num(value)} {escape(unit)}</title></rect>")
        body.append(_text(x + slot * 0.35, y - 4, num(totals[c]), size=11))
        body.append(_text(x + slot * 0.35, bottom + 16, _short(category, slot - 2)))
    for n, (i, name, _) in enumerate(shown):
        lx = LEFT + (n % 4) * ((width - LEFT) / 4)
        ly = bottom + 34 + (n // 4) * 18
        body.append(f'<rect x="{num(lx)}" y="{num(ly - 10)}" width="12" height="12" '
                    f'fill="{colours[i % len(colours)]}"/>')
        body.append(_text(lx + 16, ly, name, anchor="start", size=11))
    desc = description or "；".join(
        f"{category}：" + "、".join(f"{name} {num(values[c])}" for _, name, values in shown if values[c])
        for c, category in enumerate(categories)) or "尚無資料"
    return _svg(width, height, title, desc, body)


def line_chart(title: str, points: Sequence[tuple[str, float]], *, max_value: float = 1.0,
               fmt: Callable[[float], str] = lambda v: f"{round(v * 100)} %",
               guides: Sequence[Guide] = (), description: str | None = None) -> Markup:
    """A line through (label, value) points, e.g. the cumulative confirmation share per day."""
    count = len(points)
    slot = _slot(count)
    width = LEFT + RIGHT + slot * max(count, 1)
    height = TOP + PLOT_HEIGHT + BOTTOM
    bottom = TOP + PLOT_HEIGHT
    max_value = max_value or 1.0
    body = _axis(width, TOP, bottom, max_value, fmt)
    coords = []
    for index, (label, value) in enumerate(points):
        x = LEFT + slot * index + slot / 2
        y = bottom - PLOT_HEIGHT * min(max(value, 0) / max_value, 1)
        coords.append((x, y, label, value))
    if coords:
        path = " ".join(f"{num(x)},{num(y)}" for x, y, _, _ in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{BAR_COLOUR}" stroke-width="2"/>')
    every = max(1, count // 12)  # at most about a dozen axis labels
    for index, (x, y, label, value) in enumerate(coords):
        body.append(f'<circle class="point" cx="{num(x)}" cy="{num(y)}" r="4" fill="{BAR_COLOUR}" '
                    f'data-value="{escape(num(value))}"><title>{escape(label)}：{escape(fmt(value))}</title></circle>')
        if index % every == 0 or index == count - 1:
            body.append(_text(x, bottom + 16, _short(label, slot * every - 2), size=11))
    for guide in guides:
        y = bottom - PLOT_HEIGHT * min(guide.value / max_value, 1)
        body.append(f'<line class="guide" x1="{LEFT}" y1="{num(y)}" x2="{num(width - RIGHT)}" '
                    f'y2="{num(y)}" stroke="{guide.colour}" stroke-dasharray="4 3"/>')
    if not points:
        body.append(_text(width / 2, TOP + PLOT_HEIGHT / 2, "尚無資料", colour="#666"))
    desc = description or "；".join(f"{label}：{fmt(value)}" for label, value in points) or "尚無資料"
    return _svg(width, height, title, desc, body)
