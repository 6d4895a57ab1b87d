"""The run page: self-contained; verdict, parts, invariants, command and Locust statistics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.report import write_report
from tests.sample_runs import write_sample_run
from tests.unit.test_report_data import PAY, write_literal_run


def _page(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


def test_the_page_states_verdict_headline_parts_invariants_and_command(tmp_path: Path) -> None:
    html = _page(write_literal_run(tmp_path / "r1"))
    assert '<div class="verdict">violation</div>' in html
    assert "no-duplicate-charge: 1 of 1 payments was charged more than once." in html
    assert html.count('data-checker="') == 2
    assert '<tr class="invalid error" data-checker="no-duplicate-charge">' in html
    assert "<td>postgres</td><td>embedded</td><td>18.6</td>" in html
    assert '<pre class="command" id="command">payrace explore --seed 7</pre>' in html
    assert f'id="v-{PAY}"' in html and html.count('<svg class="timeline"') == 1
    assert "2nd charge · ch_B" in html


def test_the_page_needs_no_network(tmp_path: Path) -> None:
    html = _page(write_sample_run(tmp_path / "pr145"))
    assert not re.search(r"""<(script|img|iframe)[^>]*\ssrc=""", html)
    assert not re.search(r"""<link[^>]*rel="stylesheet""", html)
    # the only absolute URLs are XML namespaces and the stand-in's address in the parts table
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    allowed = re.compile(r"^http://(www\.w3\.org/|purl\.org/|creativecommons\.org/|127\.0\.0\.1)")
    assert {u for u in urls if not allowed.match(u)} == set()


def test_charts_and_locust_statistics_are_inline(tmp_path: Path) -> None:
    html = _page(write_sample_run(tmp_path / "pr145"))
    assert html.count('class="chart"') == 2  # load/latency/faults, and Locust over time
    assert "Throughput by outcome" in html and "Latency of charge" in html
    assert "fault: hang_after" in html
    assert "<th class=\"num\">Request Count</th>" in html
    assert "<td>/payments/[id]/charge</td>" in html
    assert "HTTPError(&#39;402 Payment Required&#39;)" in html


def test_evidence_text_is_escaped_in_the_page(tmp_path: Path) -> None:
    run_dir = write_literal_run(tmp_path / "r1")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["checks"][0]["violations"][0]["because"] = "<script>alert(1)</script>"
    summary["command"] = "payrace run --target '<b>x</b>'"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    html = _page(run_dir)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html


def test_a_run_with_only_a_summary_renders_and_says_what_is_missing(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps({"run_id": "bare", "verdict": "verified"}))
    html = _page(run_dir)
    assert '<div class="verdict">verified</div>' in html
    assert "history.jsonl is missing" in html
    assert (run_dir / "junit.xml").is_file()


def test_ten_thousand_operations_render_a_page_under_five_megabytes(tmp_path: Path) -> None:
    """A 10k-operation run renders whole and stays small (its speed: benchmarks/bench_report.py)."""
    run_dir = write_sample_run(tmp_path / "big", "pr145", background_payments=5000, locust=True)
    lines = (run_dir / "history.jsonl").read_text().count("\n")
    assert lines >= 20000  # 10k operations: an invoke and a completion each
    page = write_report(run_dir)
    assert page.stat().st_size < 5_000_000
    assert "2nd charge" in page.read_text()


def test_locust_stats_without_failures_or_history_still_render(tmp_path: Path) -> None:
    """Locust writes no failures when nothing failed; the page must not depend on it."""
    run_dir = write_sample_run(tmp_path / "r", "safe")
    (run_dir / "locust_failures.csv").unlink()
    (run_dir / "locust_stats_history.csv").unlink()
    html = _page(run_dir)
    assert "Locust's own statistics" in html and "<h3>Failures</h3>" not in html
    assert html.count('class="chart"') == 1
    # Locust's 15-decimal averages are shown with two
    locust = html[html.index('id="locust"'):html.index('id="reproduce"')]
    assert re.search(r"<td class=\"num\">\d+\.\d\d</td>", locust)
    assert not re.search(r"<td class=\"num\">\d+\.\d{3,}</td>", locust)


def test_without_locust_files_there_is_no_locust_section(tmp_path: Path) -> None:
    html = _page(write_sample_run(tmp_path / "r", "safe", locust=False))
    assert "Locust's own statistics" not in html and 'href="#locust"' not in html


def test_evidence_too_large_to_hold_gives_a_page_from_the_summary(tmp_path: Path,
                                                                  monkeypatch: Any) -> None:
    """A run whose evidence would not fit in memory (ten million ops take 19 GiB as objects)
    gets its page and JUnit from summary.json alone, saying so: the verdict, every finding
    and the counts, no timeline or load chart; the same run under the limit has them."""
    run_dir = write_sample_run(tmp_path / "pr145")
    whole = _page(run_dir)
    assert '<svg class="timeline"' in whole and "Throughput by outcome" in whole
    junit = (run_dir / "junit.xml").read_text(encoding="utf-8")
    monkeypatch.setattr("harness.report.html.REPORT_EVIDENCE_BYTES", 1)
    light = _page(run_dir)
    assert "more than this report reads into memory" in light
    assert '<svg class="timeline"' not in light and "Throughput by outcome" not in light
    assert 'class="chart"' not in light  # Locust's over time too: no ops to set its clock
    assert "<th class=\"num\">Request Count</th>" in light  # Locust's own table stays
    assert '<div class="verdict">violation</div>' in light
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    for check in summary["checks"]:
        for violation in check["violations"]:
            assert violation["payment_id"] in light  # listed, without its picture
    assert f"<b>{summary['stats']['operations']}</b>operations" in light
    assert (run_dir / "junit.xml").read_text(encoding="utf-8") == junit
