"""`payrace report RUN_DIR`: (re)render a run's index.html and junit.xml from its evidence files."""

from __future__ import annotations

from pathlib import Path

import click

from harness.report import write_report, write_reports_index


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="Also rewrite the runs list (index.html) in the run directory's parent.",
)
def report(run_dir: Path, index: bool) -> None:
    """Render the HTML report and junit.xml of RUN_DIR (a reports/<run-id>/ directory)."""
    page = write_report(run_dir)  # raises UsageError (exit 2) for a missing or non-run directory
    click.echo(f"report: {page}")
    if index:
        click.echo(f"runs list: {write_reports_index(run_dir.resolve().parent)}")
