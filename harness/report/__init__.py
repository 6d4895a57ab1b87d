"""The HTML report: a run directory's evidence as a plain dict, rendered by Jinja templates."""

from __future__ import annotations

from harness.report.compare import write_comparison
from harness.report.data import build_report
from harness.report.html import write_report
from harness.report.index import write_reports_index
from harness.report.rundir import is_run_dir, read_run

__all__ = [
    "build_report",
    "is_run_dir",
    "read_run",
    "write_comparison",
    "write_report",
    "write_reports_index",
]
