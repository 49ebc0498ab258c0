"""A small price chart of a symbol around a case's executions, as inline SVG.

Server-rendered so the console needs no script: prices of the decisions of the symbol
in arrival order, the reference price (dashed), the band edges (shaded), and the case's
executions as red dots. Prices are exact decimal strings; plotting is the only place
they become floats.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 560, 200, 36


def price_chart(chart: dict) -> str:
    points = chart["points"]
    if not points:
        return "<p>No prices of this symbol in the journal.</p>"
    record = chart["record"]
    prices = [float(p["price"]) for p in points]
    levels = list(prices)
    for key in ("reference_price", "band_low", "band_high"):
        if record.get(key) is not None:
            levels.append(float(record[key]))
    low, high = min(levels), max(levels)
    span = (high - low) or 1.0
    low, high = low - span * 0.08, high + span * 0.08

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / max(len(points) - 1, 1))

    def y(price: float) -> float:
        return HEIGHT - PAD / 2 - (HEIGHT - PAD) * (price - low) / (high - low)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="prices of '
             f'{escape(chart["symbol"])} around the trade">',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fbfbfd"/>']
    if record.get("band_low") is not None:
        top, bottom = y(float(record["band_high"])), y(float(record["band_low"]))
        parts.append(f'<rect x="{PAD}" y="{top:.1f}" width="{WIDTH - 2 * PAD}" '
                     f'height="{bottom - top:.1f}" fill="#e6f2e6"><title>band '
                     f'{escape(record["band_low"])} .. {escape(record["band_high"])}'
                     '</title></rect>')
        for key in ("band_low", "band_high"):
            parts.append(_label(WIDTH - PAD + 2, y(float(record[key])), record[key]))
    if record.get("reference_price") is not None:
        ref = y(float(record["reference_price"]))
        parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{ref:.1f}" y2="{ref:.1f}" '
                     'stroke="#555" stroke-dasharray="4 3"/>')
        parts.append(_label(2, ref, f'ref {record["reference_price"]}'))
    line = " ".join(f"{x(i):.1f},{y(p):.1f}" for i, p in enumerate(prices))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#2b5c9e" stroke-width="1.5"/>')
    marked = set(chart["marked"])
    for i, point in enumerate(points):
        if point["fill_seq"] in marked:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(prices[i]):.1f}" r="4.5" '
                         f'fill="#c62828"><title>{escape(point["price"])} at '
                         f'{escape(point["time"])}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _label(x: float, y: float, text: str) -> str:
    return (f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="10" fill="#333">'
            f'{escape(text)}</text>')
