"""The dashboard's trend as a small server-rendered SVG: per day, a bar of shoppers told and,
over it, a bar of purchases. No script, so it paints with the page (and counts for LCP)."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

WIDTH, HEIGHT, GAP = 600, 160, 0.2
MIN_SLOTS = 14  # a day or two of history draws narrow bars at the left, not one wall of colour


def trend_bars(points: list[dict], label: str, day_text: Callable[[str], str] = str) -> Markup:
    """``points``: ``{"date", "notified", "purchased"}`` per day, oldest first; ``day_text`` writes
    a day as the merchant reads it (the bar's tooltip)."""
    top = max([p["notified"] for p in points] + [p["purchased"] for p in points] + [1])
    slot = WIDTH / max(len(points), MIN_SLOTS)
    bars = []
    for index, point in enumerate(points):
        x, width = index * slot + slot * GAP / 2, slot * (1 - GAP)
        title = f'{day_text(point["date"])}: {point["notified"]} / {point["purchased"]}'
        bars.append(f'<g><title>{escape(title)}</title>'
                    f'{_bar("bb-bar-told", x, width, point["notified"], top)}'
                    f'{_bar("bb-bar-bought", x, width, point["purchased"], top)}</g>')
    return Markup(f'<svg class="bb-chart" id="bb-trend" role="img" aria-label="{escape(label)}" '
                  f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" width="100%" height="{HEIGHT}">'
                  f'<line x1="0" y1="{HEIGHT - 0.5}" x2="{WIDTH}" y2="{HEIGHT - 0.5}" class="bb-axis"/>'
                  f'{"".join(bars)}</svg>')


def _bar(css_class: str, x: float, width: float, value: int, top: int) -> str:
    height = HEIGHT * value / top
    return (f'<rect class="{css_class}" x="{x:.2f}" y="{HEIGHT - height:.2f}" width="{width:.2f}" '
            f'height="{height:.2f}" data-value="{value}"/>')
