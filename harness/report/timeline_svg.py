"""Draw a per-payment timeline model as one inline SVG: lanes, markers, legend and a ms axis."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.report.label_layout import Label, Slot, place, row_count, text_width
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
CHAR_W = 6.1  # average glyph width at 11 px, for the status bands' fit test
LABEL_X0, LABEL_X1 = PLOT_X0 - 4, WIDTH - 6.0  # event labels stay within these x
CLIENT_ROW, REQUEST_ROW, CHARGE_ROW, NOTE_ROW = 13.0, 12.0, 15.0, 12.0  # text row pitches
NOT_RECORDED = "not recorded in db"
FONT = "system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"

XScale = Callable[[float], float]


def render_svg(model: dict[str, Any]) -> str:
    """The timeline as a self-contained <svg> element (no script, no external reference)."""
    return _draw(model)[0]


def lay_out_labels(model: dict[str, Any]) -> list[Label]:
    """The boxes of every event label exactly as render_svg places them (legend excluded)."""
    return _draw(model)[1]


def _draw(model: dict[str, Any]) -> tuple[str, list[Label]]:
    span = float(model["span_ms"])

    def x(t_ms: float) -> float:
        return round(PLOT_X0 + (PLOT_X1 - RESERVE - PLOT_X0) * max(0.0, t_ms) / span, 2)

    out: list[str] = []
    labels: list[Label] = []
    y = _legend(out, 4.0)
    top = y + 6
    y = top
    bars: dict[int, float] = {}  # operation index → y of its bar's bottom edge
    for n, lane in enumerate(model["lanes"]):
        y = _client_lane(out, lane, y, x, n % 2 == 0, bars, labels)
    y = _provider_lane(out, model, y, x, bars, labels)
    y = _status_lane(out, model, y, x, span)
    _grid_and_axis(out, top, y, span, x)
    for c in model["charges"]:
        if c["duplicate"]:  # one red guide through every lane: what happened at that instant
            out.append(el("line", x1=x(c["t_ms"]), x2=x(c["t_ms"]), y1=top, y2=y,
                          stroke=COLOURS["duplicate"], stroke_width=1.3, stroke_dasharray="5 3"))
    height = y + 42
    svg = el(
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
    return svg, labels


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


def _baseline_box(text: str, lane: str, x0: float, baseline: float, size: float,
                  bold: bool = False) -> Label:
    """The box a label occupies: ascent above its baseline, descent below (≈ 0.8 / 0.2 em)."""
    return Label(text, lane, x0, baseline - 0.8 * size, text_width(text, size, bold), size)


def _place(items: list[tuple[float, str, float, bool]]) -> list[Slot]:
    """Rows for (wanted x, text, font size, bold) labels, kept inside the picture."""
    return place([(want, text_width(text, size, bold)) for want, text, size, bold in items],
                 LABEL_X0, LABEL_X1)


def _client_lane(
    out: list[str], lane: dict[str, Any], y: float, x: XScale, shade: bool,
    bars: dict[int, float], labels: list[Label],
) -> float:
    items = sorted(lane["items"], key=lambda i: i["start_ms"])
    unknown = [i["outcome"] in ("info", "open") for i in items]
    slots = _place([(x(i["start_ms"]), i["label"], 11, u)
                    for i, u in zip(items, unknown, strict=True)])
    rows = max(2, row_count(slots))  # the lane grows by one text row per stacked label row
    bar_y = y + 20 + CLIENT_ROW * (rows - 1)
    h = bar_y - y + 26
    _lane_frame(out, y, h, lane["label"], "operations", shade)
    for item, slot, bold in zip(items, slots, unknown, strict=True):
        x0 = x(item["start_ms"])
        width = max(3.0, x(item["end_ms"]) - x0)
        bar = el(
            "rect", x=x0, y=bar_y, width=width, height=14, rx=2,
            fill=COLOURS.get(item["outcome"], COLOURS["info"]),
            stroke=COLOURS["ink"] if item["highlight"] else None,
            stroke_width=1.4 if item["highlight"] else None,
            stroke_dasharray="4 2" if item["outcome"] == "open" else None,
        )
        tick = el("line", x1=x0, x2=x0, y1=bar_y - 3, y2=bar_y + 17, stroke=COLOURS["ink"])
        bars[item["index"]] = bar_y + 14
        baseline = bar_y - 5 - slot.row * CLIENT_ROW
        labels.append(_baseline_box(item["label"], lane["label"], slot.x, baseline, 11, bold))
        label = el("text", text=item["label"], x=slot.x, y=baseline,
                   fill="#9a5b00" if bold else COLOURS["ink"],
                   font_weight=700 if bold else None)
        out.append(el("g", title(item["title"]), bar, tick, label))
    return y + h


def _provider_lane(
    out: list[str], model: dict[str, Any], y: float, x: XScale, bars: dict[int, float],
    labels: list[Label],
) -> float:
    lane = "provider (stand-in)"
    reqs = sorted(model["requests"], key=lambda r: r["t_ms"])
    req_slots = _place([(x(r["t_ms"]) - 4, r["label"], 11, False) for r in reqs])
    marks = sorted(model["charges"] + [dict(r, refund=True) for r in model["refunds"]],
                   key=lambda c: c["t_ms"])
    mark_slots = _place([(x(c["t_ms"]) - 8, c["label"], _charge_font(c), not c.get("refund"))
                         for c in marks])
    unrecorded = [c for c in marks if c.get("recorded") is False]
    note_slots = _place([(x(c["t_ms"]) - 8, NOT_RECORDED, 10, False) for c in unrecorded])
    # Requests stack their rows upwards from the request line, charges upwards from the
    # charge line, and "not recorded" notes downwards from it; each stack grows the lane.
    req_y = y + 26 + REQUEST_ROW * (max(2, row_count(req_slots)) - 1)
    charge_y = req_y + 36 + CHARGE_ROW * (max(2, row_count(mark_slots)) - 1)
    notes = row_count(note_slots)
    bottom = charge_y + 23 + NOTE_ROW * (notes - 1) + 9 if notes else charge_y + 24
    _lane_frame(out, y, bottom - y, lane, "requests · charges", False)
    out.append(el("line", x1=PLOT_X0, x2=PLOT_X1, y1=req_y, y2=req_y, stroke=COLOURS["rule"]))
    for r, slot in zip(reqs, req_slots, strict=True):
        cx = x(r["t_ms"])
        shape = {"replay": "diamond", "in_use": "square"}.get(r["kind"], "dot")
        ring = _marker("ring", cx, req_y, COLOURS["fault"], 7.5) if r["fault"] else ""
        if r.get("caused_by") in bars:  # which client attempt this request served
            out.append(el("line", x1=cx, x2=cx, y1=bars[r["caused_by"]], y2=req_y - 8,
                          stroke=COLOURS["muted"], stroke_width=1, stroke_dasharray="2 2"))
        baseline = req_y - 11 - slot.row * REQUEST_ROW
        labels.append(_baseline_box(r["label"], lane, slot.x, baseline, 11))
        label = el("text", text=r["label"], x=slot.x, y=baseline,
                   fill=COLOURS["fault"] if r["fault"] else COLOURS["ink"])
        out.append(el("g", title(r["title"]), ring,
                      _marker(shape, cx, req_y, COLOURS[r["kind"]], 5), label))
    out.append(el("line", x1=PLOT_X0, x2=PLOT_X1, y1=charge_y, y2=charge_y, stroke=COLOURS["rule"]))
    for c, slot in zip(marks, mark_slots, strict=True):
        baseline = charge_y - 15 - slot.row * CHARGE_ROW
        size = _charge_font(c)
        bold = not c.get("refund")
        labels.append(_baseline_box(c["label"], lane, slot.x, baseline, size, bold))
        out.append(_charge_mark(c, x(c["t_ms"]), charge_y, (slot.x, baseline), size))
    for c, slot in zip(unrecorded, note_slots, strict=True):
        baseline = charge_y + 23 + slot.row * NOTE_ROW
        labels.append(_baseline_box(NOT_RECORDED, lane, slot.x, baseline, 10))
        out.append(el("g", title(c["title"]), el("text", text=NOT_RECORDED, x=slot.x,
                      y=baseline, font_size=10, fill=COLOURS["muted"])))
    return bottom


def _charge_font(c: dict[str, Any]) -> float:
    return 13.0 if c.get("duplicate") else 11.0


def _charge_mark(
    c: dict[str, Any], cx: float, cy: float, at: tuple[float, float], size: float
) -> str:
    """A charge (or refund) marker on its line, with its label at `at` (x, baseline)."""
    if c.get("refund"):
        body = _marker("ring", cx, cy, COLOURS["refund"], 6)
        label = el("text", text=c["label"], x=at[0], y=at[1], fill=COLOURS["refund"])
        return el("g", title(c["title"]), body, label)
    colour = COLOURS["duplicate"] if c["duplicate"] else COLOURS["charge"]
    r = 10.5 if c["duplicate"] else 8.5
    return el(
        "g",
        title(c["title"]),
        el("circle", cx=cx, cy=cy, r=r, fill=colour, stroke="#fff", stroke_width=1.5),
        el("text", text=str(c["n"]), x=cx, y=cy + 4, fill="#fff", font_weight=700,
           text_anchor="middle"),
        el("text", text=c["label"], x=at[0], y=at[1], fill=colour, font_weight=700,
           font_size=size),
    )


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
