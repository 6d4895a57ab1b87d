"""reports/index.html lists each run and its verdict; the comparison page sets runs side by side."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.report import write_comparison, write_report, write_reports_index
from tests.sample_runs import write_sample_run


def test_the_runs_list_shows_each_run_with_its_verdict_and_link(tmp_path: Path) -> None:
    write_report(write_sample_run(tmp_path / "a", "pr145"))
    write_sample_run(tmp_path / "b", "safe")  # no page yet: linked to its summary
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{not json")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "index.html").write_text("<html></html>")
    (tmp_path / "empty").mkdir()
    html = write_reports_index(tmp_path).read_text()
    rows = re.findall(r'<tr class="(\w+)">\s*<td class="mono"><a href="([^"]+)">', html)
    assert sorted(rows) == [("unreadable", "broken/summary.json"),
                            ("verified", "b/summary.json"), ("violation", "a/index.html")]
    assert '<span class="badge violation">violation</span>' in html
    assert "3 runs: 1 with violations, 1 verified, 0 inconclusive." in html
    assert '<a href="demo/index.html">demo</a>' in html and "empty" not in html
    # one double charge trips three checkers, but it is one payment in violation
    assert re.search(r'violation</span></td>\s*<td class="num">1</td>', html)


def test_a_missing_reports_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No reports directory at"):
        write_reports_index(tmp_path / "nope")


def test_the_comparison_page_puts_verdicts_side_by_side_with_the_violation_timeline(
    tmp_path: Path,
) -> None:
    pr145 = write_sample_run(tmp_path / "runs" / "pr145", "pr145")
    safe = write_sample_run(tmp_path / "runs" / "safe", "safe")
    page = write_comparison(tmp_path / "demo", [pr145, safe], "PR #145 against safe")
    html = page.read_text()
    assert "<h1>PR #145 against safe</h1>" in html
    assert '<a href="../runs/pr145/index.html">reference:pr145</a>' in html
    assert '<a href="../runs/safe/index.html">reference:safe</a>' in html
    assert (pr145 / "index.html").is_file() and (safe / "index.html").is_file()
    row = re.search(r'data-checker="no-duplicate-charge">(.*?)</tr>', html, re.DOTALL)
    assert row is not None
    assert re.findall(r'badge (\w+)">', row.group(1)) == ["invalid", "valid"]
    assert html.count('<svg class="timeline"') == 1 and "2nd charge" in html
    assert "No violations: every invariant held." in html


def test_a_comparison_of_no_runs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least one run directory"):
        write_comparison(tmp_path, [], "nothing")
