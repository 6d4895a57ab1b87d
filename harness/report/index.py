"""reports/index.html: every run under a reports directory with its verdict, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.report.html import INDEX_HTML, environment
from harness.report.rundir import SUMMARY


def run_row(run_dir: Path) -> dict[str, Any]:
    """One line of the runs list; a summary that cannot be read is shown as such, not skipped."""
    row: dict[str, Any] = {"dir": run_dir.name, "run_id": run_dir.name, "verdict": "unreadable",
                           "kind": "", "target": "", "started": "", "duration_s": None,
                           "violations": 0, "command": "", "scenario": "", "has_page": False}
    row["has_page"] = (run_dir / INDEX_HTML).is_file()
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return row
    if not isinstance(summary, dict):
        return row
    checks = [c for c in summary.get("checks") or [] if isinstance(c, dict)]
    row.update(
        run_id=str(summary.get("run_id") or run_dir.name),
        verdict=str(summary.get("verdict", "unknown")),
        kind=str(summary.get("kind", "")),
        target=str(summary.get("target", "")),
        scenario=str(summary.get("scenario") or ""),
        started=str(summary.get("started", "")),
        duration_s=summary.get("duration_s"),
        command=str(summary.get("command", "")),
        violations=_payments_in_violation(checks),
    )
    return row


def _payments_in_violation(checks: list[dict[str, Any]]) -> int:
    """Distinct payments with an error-severity violation (one double charge trips 3 checkers)."""
    seen: set[str] = set()
    others = 0
    for c in checks:
        if c.get("validity") != "invalid" or c.get("severity", "error") != "error":
            continue
        for v in c.get("violations") or []:
            pid = v.get("payment_id") if isinstance(v, dict) else None
            if pid:
                seen.add(str(pid))
            else:
                others += 1
    return len(seen) + others


def write_reports_index(reports_root: Path) -> Path:
    """(Re)write reports_root/index.html listing each run directory and other report pages."""
    root = Path(reports_root)
    if not root.is_dir():
        raise UsageError(f"No reports directory at {root}: expected a directory of runs")
    runs, pages = [], []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if (child / SUMMARY).is_file():
            runs.append(run_row(child))
        elif (child / INDEX_HTML).is_file():
            pages.append(child.name)  # e.g. the demo's side-by-side comparison
    runs.sort(key=lambda r: (r["started"], r["run_id"]), reverse=True)
    counts = {v: sum(r["verdict"] == v for r in runs) for v in
              ("violation", "verified", "inconclusive")}
    html = environment().get_template("index.html.j2").render(runs=runs, pages=pages,
                                                              counts=counts)
    out = root / INDEX_HTML
    out.write_text(html, encoding="utf-8")
    return out
