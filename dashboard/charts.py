"""Small SVG charts drawn on the server: no chart library, no script, readable by a screen reader
(each chart is ``role="img"`` with a label, and the page shows the same numbers in a table).

Colours come from the Okabe–Ito palette, which readers with the common colour-vision
deficiencies tell apart; no chart relies on colour alone to say anything.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

BLUE = "#0072B2"
ORANGE = "#D55E00"
GREY = "#595959"


def _svg(width: int, height: int, label: str, body: str, css: str = "chart", titled: bool = True) -> Markup:
    title = f"<title>{escape(label)}</title>" if titled else ""
    return Markup(
        f'<svg class="{css}" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none">{title}{body}</svg>'
    )


def bars(values: Sequence[int], labels: Sequence[str], label: str, width: int = 720, height: int = 160) -> Markup:
    """A bar per value (e.g. statements per week), with a baseline and the largest value marked."""
    top = max(values, default=0) or 1
    n = max(len(values), 1)
    step = width / n
    gap = min(2.0, step * 0.2)
    parts = [f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{GREY}"/>']
    for i, (value, name) in enumerate(zip(values, labels)):
        h = (height - 14) * value / top
        x = i * step
        parts.append(
            f'<rect x="{x + gap / 2:.1f}" y="{height - 1 - h:.1f}" width="{max(step - gap, 0.5):.1f}" height="{h:.1f}" '
            f'fill="{BLUE}"><title>{escape(name)}: {value}</title></rect>'
        )
    parts.append(f'<text x="2" y="11" font-size="11" fill="{GREY}">{top}</text>')
    return _svg(width, height, label, "".join(parts))


def sparkline(values: Sequence[int], label: str, width: int = 120, height: int = 24) -> Markup:
    """A member's weekly line: one point per week, the highest week at the top."""
    if not values:
        return _svg(width, height, label, "", "spark", titled=False)
    top = max(values) or 1
    n = len(values)
    step = width / max(n - 1, 1)
    points = " ".join(f"{i * step:.0f},{height - 2 - (height - 4) * v / top:.0f}" for i, v in enumerate(values))
    return _svg(width, height, label, f'<polyline points="{points}"/>', "spark", titled=False)


def histogram(scores: Sequence[float], label: str, bins: int = 10, width: int = 200, height: int = 48) -> Markup:
    """Scaled scores in ``bins`` equal bins from 0 to 1 (scores outside go to the end bins)."""
    counts = [0] * bins
    for s in scores:
        counts[min(max(int(s * bins), 0), bins - 1)] += 1
    top = max(counts) or 1
    step = width / bins
    parts = [f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{GREY}"/>']
    for i, c in enumerate(counts):
        h = (height - 2) * c / top
        low, high = i / bins, (i + 1) / bins
        parts.append(
            f'<rect x="{i * step + 1:.1f}" y="{height - 1 - h:.1f}" width="{step - 2:.1f}" height="{h:.1f}" fill="{ORANGE}">'
            f"<title>{low:.1f}–{high:.1f}: {c}</title></rect>"
        )
    return _svg(width, height, label, "".join(parts), "hist")


def line(values: Sequence[float], label: str, width: int = 480, height: int = 120, low: float = 0.0, high: float = 1.0) -> Markup:
    """Points joined in order on a fixed scale (self-assessment scores, 0 to 1), each point marked."""
    if not values:
        return _svg(width, height, label, "")
    low, high = min(low, *values), max(high, *values)
    span = (high - low) or 1
    n = len(values)
    step = (width - 10) / max(n - 1, 1)
    xy = [(5 + i * step, height - 5 - (height - 10) * (v - low) / span) for i, v in enumerate(values)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    marks = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{ORANGE}"/>' for x, y in xy)
    grid = f'<line x1="0" y1="{height - 5}" x2="{width}" y2="{height - 5}" stroke="{GREY}"/>'
    return _svg(width, height, label, grid + f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" points="{points}"/>' + marks)
