"""Draw a per-payment timeline model as one inline SVG: lanes, markers, legend and a ms axis."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.report.svg import el, title
from harness.report.timeline import short_id

# Colours carry the same meaning everywhere in the report (the legend repeats them).
COLOURS = {
    "ok": "#2e9d4a",
    "fail": "#9aa0a6",
    "info": "#f0a020",
    "open": "#f0a020",
    "request": "#4a5560",
    "replay": "#8e5bd6",
    "in_use": "#4a5560",
    "fault": "#e8590c",
    "charge": "#1f6fd1",
    "duplicate": "#d62728",
    "refund": "#2e9d4a",
    "ink": "#24292f",
    "muted": "#57606a",
    "rule": "#d0d7de",
}
STATUS_COLOURS = {
    "pending": "#dfe6ee",
    "processing": "#fde7b0",
    "completed": "#c8ecd0",
    "failed": "#e2e2e2",
}

WIDTH = 1100
PLOT_X0 = 165.0
PLOT_X1 = WIDTH - 20.0
RESERVE = 235.0  # right margin kept free of events: room for the db badge and late labels
CHAR_W = 6.1  # average glyph width at 11 px: enough to keep labels from overprinting
FONT = "system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"

XScale = Callable[[float], float]


def render_svg(model: dict[str, Any]) -> str:
    """The timeline as a self-contained <svg> element (no script, no external reference)."""
    span = float(model["span_ms"])

    def x(t_ms: float) -> float:
        return round(PLOT_X0 + (PLOT_X1 - RESERVE - PLOT_X0) * max(0.0, t_ms) / span, 2)

    out: list[str] = []
    y = _legend(out, 4.0)
    top = y + 6
    y = top
    bars: dict[int, float] = {}  # operation index → y of its bar's bottom edge
    for n, lane in enumerate(model["lanes"]):
        y = _client_lane(out, lane, y, x, n % 2 == 0, bars)
    y = _provider_lane(out, model, y, x, bars)
    y = _status_lane(out, model, y, x, span)
    _grid_and_axis(out, top, y, span, x)
    for c in model["charges"]:
        if c["duplicate"]:  # one red guide through every lane: what happened at that instant
            out.append(el("line", x1=x(c["t_ms"]), x2=x(c["t_ms"]), y1=top, y2=y,
                          stroke=COLOURS["duplicate"], stroke_width=1.3, stroke_dasharray="5 3"))
    height = y + 42
    return el(
        "svg",
        title(model["caption"]),
        *out,
        class_="timeline",
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {height:.0f}",
        width="100%",
        role="img",
        aria_label=model["caption"],
        font_family=FONT,
        font_size=11,
    )


def _legend(out: list[str], y: float) -> float:
    items = [
        ("bar", COLOURS["ok"], "ok"),
        ("bar", COLOURS["fail"], "fail (certainly not done)"),
        ("bar", COLOURS["info"], "info (outcome unknown)"),
        ("dot", COLOURS["request"], "request executed"),
        ("diamond", COLOURS["replay"], "replayed"),
        ("square", COLOURS["in_use"], "409 key in use"),
        ("ring", COLOURS["fault"], "fault injected"),
        ("charge", COLOURS["charge"], "charge"),
        ("charge", COLOURS["duplicate"], "2nd+ charge (duplicate)"),
    ]
    x0, row = 10.0, y + 10
    for shape, colour, text in items:
        width = 22 + len(text) * 5.6 + 14
        if x0 + width > WIDTH:
            x0, row = 10.0, row + 18
        if shape == "bar":
            out.append(el("rect", x=x0, y=row - 5, width=16, height=10, rx=2, fill=colour))
        else:
            out.append(_marker(shape, x0 + 8, row, colour, 5))
        out.append(el("text", text=text, x=x0 + 22, y=row + 4, fill=COLOURS["ink"]))
        x0 += width
    return row + 10


def _marker(shape: str, cx: float, cy: float, colour: str, r: float) -> str:
    if shape == "diamond":
        d = f"M{cx} {cy - r - 1}L{cx + r + 1} {cy}L{cx} {cy + r + 1}L{cx - r - 1} {cy}Z"
        return el("path", d=d, fill=colour)
    if shape == "square":
        return el("rect", x=cx - r, y=cy - r, width=2 * r, height=2 * r, fill="#fff",
                  stroke=colour, stroke_width=1.8)
    if shape == "ring":
        return el("circle", cx=cx, cy=cy, r=r, fill="#fff", stroke=colour, stroke_width=2.4)
    if shape == "charge":
        return el("circle", cx=cx, cy=cy, r=r + 1, fill=colour)
    return el("circle", cx=cx, cy=cy, r=r - 1, fill=colour)


def _lane_frame(out: list[str], y: float, h: float, label: str, sub: str, shade: bool) -> None:
    if shade:
        out.append(el("rect", x=0, y=y, width=WIDTH, height=h, fill="#f6f8fa"))
    out.append(el("line", x1=0, x2=WIDTH, y1=y + h, y2=y + h, stroke="#e1e4e8"))
    out.append(el("text", text=label, x=10, y=y + h / 2, font_weight=600, font_size=12,
                  fill=COLOURS["ink"]))
    out.append(el("text", text=sub, x=10, y=y + h / 2 + 14, font_size=10, fill=COLOURS["muted"]))


def _levels(spans: list[tuple[float, float]], levels: int) -> list[int]:
    """Greedy rows for labels, so that neighbouring labels do not print over each other."""
    ends = [-math.inf] * levels
    placed = []
    for start, width in spans:
        level = next((i for i, end in enumerate(ends) if start >= end + 6), None)
        if level is None:
            level = min(range(levels), key=lambda i: ends[i])
        ends[level] = start + width
        placed.append(level)
    return placed


def _fit(x0: float, text: str, char_w: float = CHAR_W) -> float:
    """Shift a left-anchored label left so that it ends inside the picture."""
    return min(x0, WIDTH - 6 - len(text) * char_w)


def _client_lane(
    out: list[str], lane: dict[str, Any], y: float, x: XScale, shade: bool, bars: dict[int, float]
) -> float:
    h = 60.0
    _lane_frame(out, y, h, lane["label"], "operations", shade)
    items = sorted(lane["items"], key=lambda i: i["start_ms"])
    levels = _levels([(x(i["start_ms"]), len(i["label"]) * CHAR_W) for i in items], 2)
    bar_y = y + 36
    for item, level in zip(items, levels, strict=True):
        x0 = x(item["start_ms"])
        width = max(3.0, x(item["end_ms"]) - x0)
        unknown = item["outcome"] in ("info", "open")
        bar = el(
            "rect", x=x0, y=bar_y, width=width, height=14, rx=2,
            fill=COLOURS.get(item["outcome"], COLOURS["info"]),
            stroke=COLOURS["ink"] if item["highlight"] else None,
            stroke_width=1.4 if item["highlight"] else None,
            stroke_dasharray="4 2" if item["outcome"] == "open" else None,
        )
        tick = el("line", x1=x0, x2=x0, y1=bar_y - 3, y2=bar_y + 17, stroke=COLOURS["ink"])
        bars[item["index"]] = bar_y + 14
        label = el("text", text=item["label"], x=_fit(x0, item["label"]), y=bar_y - 5 - level * 13,
                   fill="#9a5b00" if unknown else COLOURS["ink"],
                   font_weight=700 if unknown else None)
        out.append(el("g", title(item["title"]), bar, tick, label))
    return y + h


def _provider_lane(
    out: list[str], model: dict[str, Any], y: float, x: XScale, bars: dict[int, float]
) -> float:
    h = 108.0
    _lane_frame(out, y, h, "provider (stand-in)", "requests · charges", False)
    req_y = y + 34
    out.append(el("line", x1=PLOT_X0, x2=PLOT_X1, y1=req_y, y2=req_y, stroke=COLOURS["rule"]))
    reqs = sorted(model["requests"], key=lambda r: r["t_ms"])
    levels = _levels([(x(r["t_ms"]) - 4, len(r["label"]) * CHAR_W) for r in reqs], 2)
    for r, level in zip(reqs, levels, strict=True):
        cx = x(r["t_ms"])
        shape = {"replay": "diamond", "in_use": "square"}.get(r["kind"], "dot")
        ring = _marker("ring", cx, req_y, COLOURS["fault"], 7.5) if r["fault"] else ""
        if r.get("caused_by") in bars:  # which client attempt this request served
            out.append(el("line", x1=cx, x2=cx, y1=bars[r["caused_by"]], y2=req_y - 8,
                          stroke=COLOURS["muted"], stroke_width=1, stroke_dasharray="2 2"))
        label = el("text", text=r["label"], x=_fit(cx - 4, r["label"]), y=req_y - 11 - level * 12,
                   fill=COLOURS["fault"] if r["fault"] else COLOURS["ink"])
        out.append(el("g", title(r["title"]), ring,
                      _marker(shape, cx, req_y, COLOURS[r["kind"]], 5), label))
    charge_y = y + 82
    out.append(el("line", x1=PLOT_X0, x2=PLOT_X1, y1=charge_y, y2=charge_y, stroke=COLOURS["rule"]))
    marks = sorted(model["charges"] + [dict(r, refund=True) for r in model["refunds"]],
                   key=lambda c: c["t_ms"])
    levels = _levels([(x(c["t_ms"]) - 8, len(c["label"]) * 7.2) for c in marks], 2)
    for c, level in zip(marks, levels, strict=True):
        out.append(_charge_mark(c, x(c["t_ms"]), charge_y, charge_y - 15 - level * 14))
    return y + h


def _charge_mark(c: dict[str, Any], cx: float, cy: float, label_y: float) -> str:
    if c.get("refund"):
        body = _marker("ring", cx, cy, COLOURS["refund"], 6)
        label = el("text", text=c["label"], x=cx - 8, y=label_y, fill=COLOURS["refund"])
        return el("g", title(c["title"]), body, label)
    colour = COLOURS["duplicate"] if c["duplicate"] else COLOURS["charge"]
    r = 10.5 if c["duplicate"] else 8.5
    parts = [
        title(c["title"]),
        el("circle", cx=cx, cy=cy, r=r, fill=colour, stroke="#fff", stroke_width=1.5),
        el("text", text=str(c["n"]), x=cx, y=cy + 4, fill="#fff", font_weight=700,
           text_anchor="middle"),
        el("text", text=c["label"], x=_fit(cx - 8, c["label"], 7.4), y=label_y, fill=colour,
           font_weight=700, font_size=13 if c["duplicate"] else 11),
    ]
    if c.get("recorded") is False:
        parts.append(el("text", text="not recorded in db", x=cx + r + 4, y=cy + 4,
                        font_size=10, fill=COLOURS["muted"]))
    return el("g", *parts)


def _status_lane(out: list[str], model: dict[str, Any], y: float, x: XScale, span: float) -> float:
    h = 44.0
    _lane_frame(out, y, h, "payment status", "seen by clients · db", True)
    band_y, band_h = y + 13, 18
    points = model["status"]
    for i, p in enumerate(points):
        end = points[i + 1]["t_ms"] if i + 1 < len(points) else span
        x0, x1 = x(p["t_ms"]), x(end)
        text = f"{p['status']}: observed by {p['source']} at +{p['t_ms']:.1f} ms"
        label = (
            el("text", text=p["status"], x=x0 + 4, y=band_y + 13, fill=COLOURS["ink"])
            if x1 - x0 > len(p["status"]) * CHAR_W + 8 else ""
        )
        band = el("rect", x=x0, y=band_y, width=max(2.0, x1 - x0), height=band_h,
                  fill=STATUS_COLOURS.get(p["status"], "#eee"), stroke="#8c959f",
                  stroke_width=0.6)
        out.append(el("g", title(text), band, label))
    db = model["db"]
    if db:
        charge = f" · {short_id(str(db['charge_id']))}" if db.get("charge_id") else ""
        text = f"db: {db['status']}{charge}"
        width = len(text) * 6.8 + 12  # bold glyphs are wider
        x0 = min(x(span) + 12, PLOT_X1 - width)
        out.append(el(
            "g",
            title(f"database snapshot after the run: {db['status']}, charge_id {db['charge_id']}"),
            el("rect", x=x0, y=band_y, width=width, height=band_h, rx=3,
               fill=STATUS_COLOURS.get(str(db["status"]), "#eee"), stroke=COLOURS["ink"]),
            el("text", text=text, x=x0 + 6, y=band_y + 13, font_weight=600, fill=COLOURS["ink"]),
        ))
    return y + h


def _grid_and_axis(out: list[str], top: float, bottom: float, span: float, x: XScale) -> None:
    step = _nice_step(span / 8)
    ticks = [n * step for n in range(int(span / step) + 1)]
    for t in ticks:
        xt = x(t)
        out.append(el("line", x1=xt, x2=xt, y1=top, y2=bottom, stroke="#000",
                      stroke_opacity=0.06))
        out.append(el("line", x1=xt, x2=xt, y1=bottom, y2=bottom + 5, stroke=COLOURS["muted"]))
        out.append(el("text", text=_fmt_ms(t), x=xt, y=bottom + 17, text_anchor="middle",
                      fill=COLOURS["muted"]))
    out.append(el("line", x1=PLOT_X0, x2=x(span), y1=bottom, y2=bottom, stroke=COLOURS["muted"]))
    out.append(el("text", text="ms since this payment's first event", x=PLOT_X0, y=bottom + 33,
                  fill=COLOURS["muted"]))


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(raw))
    return next(m * base for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * base >= raw)


def _fmt_ms(t: float) -> str:
    return f"{t:.0f}" if t >= 10 or t == 0 else f"{t:.2g}"
