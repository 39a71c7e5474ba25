"""The figures page's chart: check-ins a day as bars and distinct visitors as a line, drawn as SVG
on the server (no script, no network; the page's CSP allows no inline style, so the template draws
it with presentation attributes only). Geometry only: the template writes the elements.

>>> c = bar_chart([("19/08", 40, 30), ("20/08", 10, 10)], width=200, height=100)
>>> [(b["label"], b["value"], b["height"] > 0) for b in c["bars"]], c["ticks"][-1]["value"]
([('19/08', 40, True), ('20/08', 10, True)], 50)
"""

from __future__ import annotations

import math

#: The chart's frame inside its viewBox: room on the left for the scale, below for the days.
LEFT, BOTTOM, TOP = 44, 28, 12


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1): the scale's top."""
    if value <= 1:
        return 1
    power = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def bar_chart(points: list[tuple[str, int, int]], *, width: int = 960, height: int = 240) -> dict:
    """``points``: (label, bar value, line value) in order. Returns the viewBox size, ``bars``
    (x, y, width, height, label, value), the ``line``'s points ("x,y x,y …"), the scale's
    ``ticks`` (y, value) and which labels to print (at most ~12, evenly)."""
    top_value = _nice_ceiling(max([max(b, v) for _, b, v in points] or [0]))
    plot_w, plot_h = width - LEFT - 8, height - BOTTOM - TOP
    slot = plot_w / max(len(points), 1)
    every = max(1, math.ceil(len(points) / 12))

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / top_value), 1)
    bars, line = [], []
    for i, (label, bar, visitors) in enumerate(points):
        x = LEFT + i * slot
        bars.append({"x": round(x + slot * 0.15, 1), "y": y(bar), "width": round(slot * 0.7, 1),
                     "height": round(TOP + plot_h - y(bar), 1), "label": label, "value": bar,
                     "show_label": i % every == 0, "label_x": round(x + slot / 2, 1)})
        line.append(f"{round(x + slot / 2, 1)},{y(visitors)}")
    ticks = [{"y": y(top_value * k // 4), "value": top_value * k // 4} for k in range(5)]
    return {"width": width, "height": height, "bars": bars, "line": " ".join(line), "ticks": ticks,
            "left": LEFT, "base": TOP + plot_h, "label_y": height - 8}
