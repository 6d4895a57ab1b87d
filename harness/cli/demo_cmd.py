"""`payrace demo`: PR #145's proof passes, payrace catches pr145 in seconds, safe is verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

_STYLE = {"verified": "green", "violation": "bold red", "inconclusive": "yellow"}


def verdict_table(results: list[tuple[Any, Any]]) -> Table:
    """One row per run: what ran, against what, the verdict, the money and the lesson."""
    table = Table(title="payrace demo: verdicts", title_justify="left")
    for column in ("scenario", "target", "verdict", "payments", "charges", "charged twice",
                   "what it shows"):
        table.add_column(column, overflow="fold")
    for step, result in results:
        stats = result.summary.get("stats", {})
        table.add_row(
            step.scenario, step.variant,
            f"[{_STYLE.get(result.verdict, '')}]{result.verdict}[/]",
            str(stats.get("payments", "")), str(stats.get("charges", "")),
            str(stats.get("duplicated_payments", "")), step.lesson,
        )
    return table


@click.command("demo")
@click.option("--out", default="reports", show_default=True,
              help="Reports root; the comparison page goes to <out>/demo/index.html.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every fault.")
@click.option("--progress/--no-progress", default=True, help="Live progress on stderr.")
@click.pass_context
def demo(ctx: click.Context, out: str, seed: int, progress: bool) -> None:
    """Replay PR #145's own test, then catch pr145 and verify safe under the same attack.

    Exit 0 when pr145 is caught and safe verified.
    """
    from harness.runner.demo import run_demo  # Locust, PostgreSQL and the checkers load here

    # Wide enough for the table when the output is a CI log rather than a terminal.
    console = Console(soft_wrap=True) if Console().is_terminal else Console(width=160)

    def announce(step: Any, result: Any) -> None:
        style = _STYLE.get(result.verdict, "")
        console.print(f"[{style}]{result.verdict:>12}[/]  {step.scenario} → {step.variant}  "
                      f"({result.run_dir})")

    outcome = run_demo(Path(out), seed=seed, progress=progress, on_result=announce)
    console.print(verdict_table(outcome.results))
    style = "bold green" if outcome.exit_code == 0 else "bold red"
    console.print(f"[{style}]{outcome.headline}[/]  ({outcome.seconds:g}s)")
    if outcome.page is not None:
        console.print(f"Side by side: {outcome.page}")
    ctx.exit(outcome.exit_code)
