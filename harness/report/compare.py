"""A side-by-side page for several runs (the demo: pr145 beside safe): verdicts and timelines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from markupsafe import Markup

from harness.errors import UsageError
from harness.report.data import build_report
from harness.report.html import INDEX_HTML, environment, write_report
from harness.report.rundir import read_run
from harness.report.timeline_svg import render_svg

TIMELINES_PER_RUN = 3  # the comparison shows the worst few; each run's own page has them all


def comparison_data(run_dirs: list[Path], out_dir: Path) -> dict[str, Any]:
    """Per run its report dict and a link; per invariant its result in every run."""
    runs: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        report = build_report(read_run(run_dir))
        link = Path(os.path.relpath(run_dir / INDEX_HTML, out_dir)).as_posix()
        runs.append({"report": report, "link": link})
    names: list[str] = []
    for run in runs:
        names += [c["checker"] for c in run["report"]["checks"] if c["checker"] not in names]
    rows = []
    for name in names:
        cells = []
        for run in runs:
            found = [c for c in run["report"]["checks"] if c["checker"] == name]
            cells.append(found[0] if found else None)
        rows.append({"checker": name, "cells": cells})
    return {"runs": runs, "rows": rows}


def write_comparison(out_dir: Path, run_dirs: list[Path], title: str) -> Path:
    """Write out_dir/index.html comparing the runs side by side; return its path.

    Each run's own report is written first when it is missing, so every link works.
    """
    if not run_dirs:
        raise UsageError("write_comparison needs at least one run directory, got none")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dirs = [Path(d) for d in run_dirs]
    for run_dir in dirs:
        if not (run_dir / INDEX_HTML).is_file():
            write_report(run_dir)
    data = comparison_data(dirs, out_dir)
    timelines = {
        (i, v["payment_id"]): Markup(render_svg(v["timeline"]))
        for i, run in enumerate(data["runs"])
        for v in run["report"]["violations"][:TIMELINES_PER_RUN]
    }
    html = environment().get_template("compare.html.j2").render(
        title=title, data=data, timelines=timelines, per_run=TIMELINES_PER_RUN
    )
    out = out_dir / INDEX_HTML
    out.write_text(html, encoding="utf-8")
    return out
