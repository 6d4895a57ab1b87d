"""`payrace check DIR`: judge an evidence directory, write its summary and report, exit by it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from harness.cli.params import count


@click.command("check")
@click.argument("run_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--min-charges", default="20", type=count(), show_default=True,
              help="Fewer charge executions than this and the evidence is inconclusive (exit 4).")
@click.option("--settled/--unsettled", default=True, show_default=True,
              help="Whether the target settled (its reconciler ran) before the evidence was "
              "taken; --unsettled for a run killed mid-load: payments in progress are then "
              "not losses.")
@click.option("--checker", "checkers", multiple=True, help="Also judge with your own checker: "
              "module:function, a function (evidence) -> CheckResult; repeatable "
              "(docs/CONTRACTS.md, Checkers).")
@click.option("--junit", default=None, type=click.Path(path_type=Path),
              help="Also write JUnit XML here, for CI systems.")
def check(run_dir: Path, min_charges: int, settled: bool, checkers: tuple[str, ...],
          junit: Path | None) -> None:
    """Judge the evidence in DIR: history.jsonl (or its per-process parts), ledger.jsonl and
    optionally db.json. Writes summary.json, junit.xml and index.html there.

    Exit codes: 0 verified, 1 violation, 2 not evidence (it says what is missing),
    4 inconclusive.
    """
    from harness.checkers.user import user_checkers
    from harness.cli.run_cmd import print_result
    from harness.runner.check import CheckSpec
    from harness.runner.check import check as judge
    from harness.runner.run import write_reports

    spec = CheckSpec(run_dir, min_charges, user_checkers(checkers), settled,
                     command="payrace " + shlex.join(["check", *sys.argv[2:]]))
    root, summary = judge(spec)
    write_reports(root, None, junit)
    print_result(summary, root)
    sys.exit(int(summary["exit_code"]))
