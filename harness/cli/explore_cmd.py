"""`payrace explore`: run the stateful model against a target; print and save any counterexample."""

from __future__ import annotations

import secrets
import shlex
import shutil
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from harness.adapters.load import checked_adapter
from harness.cli.params import DATABASE_URL_ENVVAR, FAULTS, SECONDS, count, typed_database_url
from harness.errors import Interrupted, PayraceError, UsageError
from harness.nemesis.registry import FAMILY_NAMES


def _print_result(summary: dict[str, Any], program_text: str, run_dir: Path) -> None:
    verdict = str(summary["verdict"])
    colour = {"verified": "green", "violation": "red"}.get(verdict, "yellow")
    click.echo(
        click.style(f"{verdict.upper()} ", fg=colour, bold=True)
        + f"{summary['target']} (exit {summary['exit_code']}): {summary['reason']}"
    )
    counterexample = summary.get("counterexample")
    if counterexample:
        cause = counterexample.get("cause")
        if cause:
            click.echo(f"cause ({cause['kind']}): {cause['sentence']}")
        click.echo(f"\nShrunk program ({counterexample['steps']} steps), replayable:\n")
        click.echo(program_text)
        click.echo(f"\nReplay it: {shlex.quote(sys.executable)} {run_dir / 'counterexample.py'}")
        if summary.get("target", "").startswith("http"):
            click.echo("  (with your service and the stand-in it talks to still running)")
    click.echo("")
    for check in summary["checks"]:
        click.echo(f"  {check['checker']:<22} {check['validity']:<8} {check['summary']}")
    click.echo(f"\nrun directory: {run_dir} (seed {summary['seed']})")


def _write_html(run_dir: Path, reports_dir: Path) -> None:
    """index.html for the run and the reports index; a page that fails is said, not fatal."""
    try:
        from harness.report import write_report, write_reports_index

        write_report(run_dir)
        write_reports_index(reports_dir)
    except Exception as exc:
        click.echo(f"payrace: could not write the HTML report for {run_dir}: {exc}", err=True)


@click.command(name="explore")
@click.option(
    "--target",
    required=True,
    help="reference:<variant>, python:package.module:factory or http://host:port",
)
@click.option("--stripe-url", default=None, help="A running stand-in (required for HTTP targets).")
@click.option(
    "--database-url",
    default=None,
    envvar=DATABASE_URL_ENVVAR,
    show_envvar=True,
    help="reference and python: targets: the PostgreSQL server to use instead of an embedded "
    "one (default: the variable below); your HTTP service: its own database (for --db-query "
    "and connection kills), as this flag only, never the variable.",
)
@click.option(
    "--db-query",
    default=None,
    help="Your service: a read-only SELECT on --database-url returning id, status, charge_id, "
    "amount (the database view when it offers no /_admin/snapshot).",
)
@click.option(
    "--settle",
    default="10",
    type=SECONDS,
    show_default=True,
    help="Seconds each example's end waits for the target to finish its own work.",
)
@click.option(
    "--seed",
    default=None,
    type=count(minimum=0),
    help="Seed for Hypothesis (default: random, printed).",
)
@click.option(
    "--max-examples", default="100", type=count(), show_default=True, help="Examples to try."
)
@click.option(
    "--max-time", default=None, type=SECONDS, help="Stop generating after this many seconds."
)
@click.option(
    "--workers",
    default="2",
    type=count(1, 8),
    show_default=True,
    help="Simulated worker processes.",
)
@click.option(
    "--faults",
    default="all",
    type=FAULTS,
    show_default=True,
    help=f"all, none, or a comma list of {','.join(FAMILY_NAMES)}.",
)
@click.option(
    "--service-pid",
    default=None,
    type=count(),
    help="Your service: its supervisor's process id; its workers are SIGKILLed right after "
    "the provider charged (the workers fault family).",
)
@click.option(
    "--adapter",
    default=None,
    help="Your service's own API: path/to/file.py:ClassName saying how to create, charge and "
    "read a payment (docs/TARGETS.md); default: payrace's contract.",
)
@click.option(
    "--steps", default="8", type=count(1, 50), show_default=True, help="Steps per example (max)."
)
@click.option(
    "--checker",
    "checkers",
    multiple=True,
    help="Also judge each example with your own checker: module:function, a function "
    "(evidence) -> CheckResult; repeatable (docs/CONTRACTS.md, Checkers).",
)
@click.option("--reports-dir", default="reports", show_default=True, help="Where runs go.")
@click.pass_context
def explore(
    ctx: click.Context,
    target: str,
    stripe_url: str | None,
    database_url: str | None,
    seed: int | None,
    max_examples: int,
    max_time: float | None,
    workers: int,
    faults: tuple[str, ...],
    steps: int,
    reports_dir: str,
    db_query: str | None,
    settle: float,
    service_pid: int | None,
    adapter: str | None,
    checkers: tuple[str, ...],
) -> None:
    """Search for a program of payments, charges, retries and faults that charges twice."""
    from harness.checkers.user import user_checkers
    from harness.model.parts import PartsRequest
    from harness.model.targets import parse_target
    from harness.targets.view import validate_db_query

    spec = parse_target(target)
    if spec.kind == "python":
        from harness.targets.python_factory import load_factory

        load_factory(spec.value)  # a module or factory that does not exist: exit 2 right away
    own_database = typed_database_url(ctx, database_url)
    query = validate_db_query(db_query, own_database)
    if query is not None and spec.kind != "http":
        raise UsageError("--db-query applies to your own service (--target http://…)")
    if service_pid is not None and spec.kind != "http":
        raise UsageError("--service-pid applies to your own service (--target http://…)")
    adapter_spec = checked_adapter(adapter, spec.kind)
    own_checkers = user_checkers(checkers)
    n_seed = secrets.randbelow(2**31) if seed is None else seed
    if spec.kind == "http" and not stripe_url:
        raise UsageError(
            f"--target {spec.value} needs --stripe-url: the payrace stand-in your service "
            "talks to (start one with `payrace stand-in`), so the ledger sees every charge"
        )
    from harness.runs import create_run_dir, new_run_id

    run_id = new_run_id("explore")
    reports = Path(reports_dir)
    run_dir = create_run_dir(run_id, reports)
    request = PartsRequest(
        target=target,
        workers=workers,
        faults=faults,
        stripe_url=stripe_url,
        # PAYRACE_DATABASE_URL is a server for payrace's own databases, never your service's.
        database_url=database_url if spec.provisioned_database else own_database,
        seed=n_seed,
        db_query=query,
        settle_s=settle,
        service_pid=service_pid,
        adapter=adapter_spec,
        checkers=own_checkers,
        evidence_dir=run_dir,
    )
    command = "payrace " + shlex.join(["explore", *sys.argv[2:]]) if len(sys.argv) > 1 else ""
    try:
        code = _explore(request, run_id, run_dir, reports, command, max_examples, steps, max_time)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; parts stopped") from None
    except PayraceError:
        # A part that did not start leaves no half-written run behind; once an example ran,
        # its history and ledger are evidence (`payrace check` judges them).
        if not (run_dir / "history.jsonl").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    ctx.exit(code)


def _explore(
    request: Any,
    run_id: str,
    run_dir: Path,
    reports: Path,
    command: str,
    n_examples: int,
    n_steps: int,
    budget: float | None,
) -> int:
    from harness.cli.explore_progress import ExploreProgress
    from harness.model.explore import explore as run_explore
    from harness.model.parts import open_environment
    from harness.model.program import show_program
    from harness.model.record import faults_label, write_explore_run
    from harness.targets.abilities import coverage, coverage_lines

    started = datetime.now(UTC)
    t0 = time.monotonic()
    click.echo(
        f"payrace: exploring {request.spec().label} with {request.workers} workers, "
        f"faults {faults_label(request.faults)}, seed {request.seed}",
        err=True,
    )
    with open_environment(request) as (env, parts):
        abilities = replace(env.target.abilities, webhooks=env.webhooks_known())
        cov = coverage(abilities, request.faults, request.settle_s)
        for line in coverage_lines(cov):
            click.echo(f"payrace: {line}", err=True)
        if budget is not None:
            env.deadline = time.monotonic() + budget
        env.stats.started = time.monotonic()
        with ExploreProgress(env.stats, sys.stderr, interactive=sys.stderr.isatty()):
            result = run_explore(env, max_examples=n_examples, seed=request.seed, steps=n_steps)
        settings = {
            "max_examples": n_examples,
            "max_time_s": budget,
            "steps": n_steps,
            "workers": request.workers,
            "faults": list(request.faults),
        }
        summary = write_explore_run(
            run_dir,
            result,
            run_id=run_id,
            request=request,
            parts=parts,
            command=command,
            started=started,
            duration_s=time.monotonic() - t0,
            settings=settings,
            coverage=cov,
        )
    _write_html(run_dir, reports)
    _print_result(summary, show_program(result.program), run_dir)
    return int(summary["exit_code"])
