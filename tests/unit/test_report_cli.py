"""`payrace report RUN_DIR` re-renders a run; a missing or non-run directory is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from tests.sample_runs import write_sample_run


def test_report_writes_the_page_junit_and_the_runs_list(tmp_path: Path) -> None:
    run_dir = write_sample_run(tmp_path / "reports" / "r1", "pr145")
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "index.html").is_file() and (run_dir / "junit.xml").is_file()
    assert (tmp_path / "reports" / "index.html").is_file()
    assert f"report: {run_dir / 'index.html'}" in result.output


def test_no_index_leaves_the_parent_alone(tmp_path: Path) -> None:
    run_dir = write_sample_run(tmp_path / "r1", "safe")
    result = CliRunner().invoke(main, ["report", "--no-index", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "index.html").exists()


def test_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"payrace: No run directory at {tmp_path / 'nope'}: expected reports/<run-id>/ with "
        "summary.json"]
    assert "Traceback" not in result.output


def test_a_directory_that_is_not_a_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"payrace: {tmp_path} is not a payrace run directory")
