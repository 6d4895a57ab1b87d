"""Load, latency and fault charts drawn by matplotlib as inline SVG (no script, works offline)."""

from __future__ import annotations

import io
import math
import re
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report.timeline_svg import COLOURS

# Text stays text in the SVG (smaller, selectable, crisp at any zoom).
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
_FAULT_PALETTE = ("#e8590c", "#c2255c", "#5f3dc4", "#1864ab", "#087f5b", "#5c940d")
_LATENCY_STYLE = {"p50": ("#1f6fd1", "-"), "p95": ("#e8590c", "-"), "p99": ("#c92a2a", "--")}


def load_chart_svg(load: dict[str, Any], faults: dict[str, Any]) -> str:
    """Throughput by outcome over latency p50/p95/p99, with faults on the same time axis."""
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(10.5, 5.4))
        # Fixed margins, not constrained layout: same look, a third of the drawing time.
        fig.subplots_adjust(left=0.065, right=0.82, top=0.94, bottom=0.09, hspace=0.28)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.15))
        t, width = load["t"], load["bucket_s"]
        base = [0.0] * len(t)
        for outcome in ("ok", "fail", "info"):
            values = load["throughput"][outcome]
            if any(values):
                top.bar(t, values, width=width, bottom=base, align="edge", label=outcome,
                        color=COLOURS[outcome], linewidth=0)
                base = [b + v for b, v in zip(base, values, strict=True)]
        top.set_ylabel("completions / s")
        top.set_title(f"Throughput by outcome ({width:g} s buckets)")
        mids = [x + width / 2 for x in t]
        for name, values in load["latency_ms"].items():
            colour, style = _LATENCY_STYLE.get(name, ("#333", "-"))
            ys = [math.nan if v is None else v for v in values]
            bottom.plot(mids, ys, style, color=colour, label=name, marker=".", markersize=4,
                        linewidth=1.4)
        bottom.set_ylabel("ms")
        bottom.set_ylim(bottom=0)
        bottom.set_title(f"Latency of {load['latency_of']} (per bucket)")
        bottom.set_xlabel("seconds since the run started")
        bottom.set_xlim(load["start_s"], load["duration_s"])
        _draw_faults((top, bottom), faults)
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return _svg(fig)


def locust_chart_svg(
    history: dict[str, Any], faults: dict[str, Any], x_min: float, x_max: float
) -> str:
    """Locust's own per-second aggregate (requests/s, failures/s, p50/p95) on the run's clock."""
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(10.5, 2.8))
        fig.subplots_adjust(left=0.065, right=0.74, top=0.88, bottom=0.17)
        ax = fig.subplots()
        t = history["t"]
        ax.plot(t, _nan(history["rps"]), color=COLOURS["ok"], label="requests/s", linewidth=1.6)
        ax.plot(t, _nan(history["fps"]), color=COLOURS["duplicate"], label="failures/s",
                linewidth=1.2)
        ax.set_ylabel("per second")
        ax.set_xlabel("seconds since the run started")
        ax.set_xlim(min([x_min, *t]), max([x_max, *t]))
        ax.set_title("Locust's statistics over time (Aggregated)")
        right = ax.twinx()
        right.grid(False)
        right.spines["right"].set_visible(True)
        for key, colour in (("p50", "#1f6fd1"), ("p95", "#e8590c")):
            right.plot(t, _nan(history[key]), ":", color=colour, label=f"{key} ms", linewidth=1.4)
        right.set_ylabel("ms (running percentile)")
        _draw_faults((ax,), faults)
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left",
                  bbox_to_anchor=(1.09, 1.0), frameon=False)
        return _svg(fig)


def _nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _draw_faults(axes: tuple[Axes, ...], faults: dict[str, Any]) -> None:
    """Armed faults as vertical lines (spans when they have an end); applied ones as ticks."""
    colours: dict[str, str] = {}
    for f in faults.get("armed", []):
        action = f["action"]
        first = action not in colours  # one legend entry per kind of fault
        colour = colours.setdefault(action, _FAULT_PALETTE[len(colours) % len(_FAULT_PALETTE)])
        for n, ax in enumerate(axes):
            label = f"fault: {action}" if n == 0 and first else None
            if f.get("until_s"):
                ax.axvspan(f["t_s"], f["until_s"], color=colour, alpha=0.12, label=label)
            else:
                ax.axvline(f["t_s"], color=colour, linestyle="--", linewidth=1.1, label=label)
    applied = faults.get("applied", [])
    if applied:
        ax = axes[-1]
        xs = [a["t_s"] for a in applied]
        ax.plot(xs, [0.0] * len(xs), "^", color=COLOURS["fault"], markersize=7, clip_on=False,
                label=f"fault applied ({len(xs)})", transform=ax.get_xaxis_transform())


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


def _svg(fig: Figure) -> str:
    """Serialise the figure as an <svg> element sized by its container."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = _XML_PROLOGUE.sub("", buffer.getvalue(), count=1)
    return _SIZE.sub(r'<svg\1 width="100%" class="chart"', text, count=1)
