"""Render a run's report dict through the Jinja templates into reports/<run-id>/index.html."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from harness.gc_pause import gc_paused
from harness.report.charts import load_chart_svg, locust_chart_svg
from harness.report.data import build_report
from harness.report.junit import write_junit
from harness.report.rundir import read_run
from harness.report.timeline_svg import render_svg

INDEX_HTML = "index.html"
# The most evidence (history, ledger and DB view, in bytes) a report reads: held as objects it
# takes about six times its size in memory (19 GiB for the 3.2 GB of a ten-million-op run).
# A larger run's page is built from summary.json alone (harness.report.data, `unread_bytes`).
REPORT_EVIDENCE_BYTES = 640 << 20


@cache
def environment() -> Environment:
    """The template environment: autoescaping on, undefined names are errors, not blanks."""
    return Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The pictures of one report: SVG markup built from the report's data only."""
    load = report["load"]
    locust_history = report["locust"].get("history")
    return {
        "timelines": {
            v["payment_id"]: Markup(render_svg(v["timeline"])) for v in report["violations"]
        },
        "load": Markup(load_chart_svg(load, report["faults"]))
        if report["counts"]["operations"] and not report["evidence_unread"] else None,
        "locust": Markup(locust_chart_svg(locust_history, report["faults"], load["start_s"],
                                          load["duration_s"]))
        if locust_history and locust_history["t"] else None,
    }


def render_run_page(report: dict[str, Any]) -> str:
    """The run's page as one self-contained HTML string."""
    return environment().get_template("run.html.j2").render(r=report, figures=figures(report))


def write_report(run_dir: Path) -> Path:
    """(Re)write index.html and junit.xml of a run directory; return the index.html path."""
    with gc_paused():  # a million-op run's rows are acyclic: the collector only rescans them
        run = read_run(Path(run_dir), evidence_limit=REPORT_EVIDENCE_BYTES)
        report = build_report(run)
        page = run.run_dir / INDEX_HTML
        page.write_text(render_run_page(report), encoding="utf-8")
        write_junit(report, run.run_dir / "junit.xml")
    return page
