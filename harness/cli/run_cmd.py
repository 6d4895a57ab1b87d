"""`payrace run`: drive a Locust scenario against a target, check the evidence, exit by verdict."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from harness.adapters.load import checked_adapter
from harness.cli.params import (
    DATABASE_URL_ENVVAR,
    DURATION,
    RATE,
    SECONDS,
    count,
    typed_database_url,
)
from harness.errors import Interrupted, UsageError
from harness.runner.load import scenario_knobs
from harness.runner.spec import (
    RunSpec,
    available_scenarios,
    check_writable,
    parse_target,
    resolve_scenario,
)
from harness.targets.view import validate_db_query


def build_spec(scenario: str | None, target: str | None, stripe_url: str | None,
               database_url: str | None, users: int, spawn_rate: float | None, duration: float,
               processes: int, workers: int, seed: int, junit: str | None, out: str,
               progress: bool, min_charges: int = 20, db_query: str | None = None,
               settle: float = 15.0, service_pid: int | None = None,
               adapter: str | None = None, server_url: str | None = None,
               checkers: tuple[str, ...] = (), until_charges: int | None = None) -> RunSpec:
    """Check what the flags' types cannot alone, in the order a user reads them.

    `database_url` is the one typed on the command line; `server_url` is PAYRACE_DATABASE_URL,
    the server a reference target's fresh database goes on.
    """
    if not scenario:
        raise UsageError(f"Name a scenario: payrace run <scenario>, one of "
                         f"{', '.join(available_scenarios())}")
    path = resolve_scenario(scenario)
    if not target:
        raise UsageError("--target is required: reference:<variant> or http://host:port")
    parsed_target = parse_target(target)
    if parsed_target.kind == "python":
        raise UsageError(f"--target {target}: `payrace run` drives HTTP with Locust; explore a "
                         "python: target with `payrace explore`, or serve it over HTTP and "
                         "pass --target http://host:port")
    query = validate_db_query(db_query, database_url)
    if query is not None and parsed_target.kind != "http":
        raise UsageError("--db-query applies to your own service (--target http://…)")
    if service_pid is not None and parsed_target.kind != "http":
        raise UsageError("--service-pid applies to your own service (--target http://…); "
                         "payrace knows its reference service's workers")
    adapter_spec = checked_adapter(adapter, parsed_target.kind)
    from harness.checkers.user import user_checkers  # the checkers load only when running

    own_checkers = user_checkers(checkers)
    if parsed_target.kind == "http" and not stripe_url:
        raise UsageError(f"--target {parsed_target.url} needs --stripe-url: the URL of the "
                         "payrace stand-in your service talks to (start one with `payrace "
                         "stand-in`), so the ledger can see every charge")
    out_dir = check_writable(Path(out))
    junit_path = Path(junit) if junit else None
    if junit_path is not None:
        check_writable(junit_path.parent if str(junit_path.parent) else Path("."))
    if parsed_target.provisioned_database:
        database_url = database_url or server_url
    return RunSpec(
        scenario=path.stem, scenario_path=path, target=parsed_target, users=users,
        spawn_rate=float(users) if spawn_rate is None else spawn_rate, duration_s=duration,
        processes=processes, workers=workers, seed=seed, stripe_url=stripe_url,
        database_url=database_url, out_dir=out_dir, junit=junit_path,
        command="payrace " + shlex.join(sys.argv[1:]), progress=progress,
        min_charges=min_charges, scenario_env=scenario_knobs(os.environ),
        db_query=query, settle_s=settle, service_pid=service_pid, adapter=adapter_spec,
        checkers=own_checkers, until_charges=until_charges,
    )


def print_result(summary: dict[str, object], run_dir: Path) -> None:
    """The verdict, each check in one line, and where the report is."""
    verdict = str(summary.get("verdict", "?"))
    colour = {"verified": "green", "violation": "red"}.get(verdict, "yellow")
    scenario, target = summary.get("scenario"), summary.get("target")
    subject = f"{scenario} → {target}" if scenario else str(target)
    click.echo(click.style(f"{verdict.upper()} ", fg=colour, bold=True)
               + f"{subject} (exit {summary.get('exit_code')})")
    checks = summary.get("checks")
    for check in checks if isinstance(checks, list) else []:
        click.echo(f"  {check.get('checker', ''):<22} {check.get('validity', ''):<8} "
                   f"{check.get('summary', '')}")
    notes = summary.get("notes")
    for note in notes if isinstance(notes, list) else []:
        click.echo(f"  note: {note}")
    cov = summary.get("coverage")
    if isinstance(cov, dict):
        from harness.targets.abilities import coverage_lines

        for line in coverage_lines(cov):
            click.echo(f"  {line}")
    index = run_dir / "index.html"
    click.echo(f"  report: {index if index.exists() else run_dir}")


@click.command("run", context_settings={"show_default": True})
@click.argument("scenario", required=False)
@click.option("--target", help="reference:<variant> or http://host:port of your service.")
@click.option("--stripe-url", help="A payrace stand-in already running (your service's provider).")
@click.option("--database-url", envvar=DATABASE_URL_ENVVAR, show_envvar=True,
              help="reference targets: the PostgreSQL server to use (default: the variable "
              "below, else an embedded one); your service: its own database (for --db-query and "
              "database connection kills in chaos), as this flag only, never the variable.")
@click.option("--db-query", default=None, help="Your service: a read-only SELECT on "
              "--database-url returning id, status, charge_id, amount (the database view when "
              "it offers no /_admin/snapshot).")
@click.option("--settle", default="15", type=SECONDS, help="Seconds payrace waits, after the "
              "load, for the target to finish its own work (a reconciler's leases).")
@click.option("--service-pid", default=None, type=count(), help="Your service: its "
              "supervisor's process id; chaos SIGKILLs its worker processes.")
@click.option("--adapter", default=None, help="Your service's own API: path/to/file.py:ClassName "
              "saying how to create, charge and read a payment (docs/TARGETS.md).")
@click.option("--users", "-u", default="10", type=count(), help="Concurrent Locust users.")
@click.option("--spawn-rate", "-r", default=None, type=RATE, help="Users started per second "
              "(default: all at once).")
@click.option("--duration", "-t", default="30s", type=DURATION,
              help="How long the load runs: 30s, 2m, 1m30s.")
@click.option("--processes", default="1", type=count(), help="Locust processes on this machine.")
@click.option("--workers", default="2", type=count(),
              help="Worker processes of the reference service.")
@click.option("--seed", default="0", type=count(minimum=None),
              help="Seed of every random choice (faults, amounts).")
@click.option("--min-charges", default="20", type=count(), help="Fewer charge executions than "
              "this and the run is inconclusive (exit 4).")
@click.option("--until-charges", default=None, type=count(), help="A soak: stop the load once "
              "this many payments have been charged (--duration is then the limit).")
@click.option("--checker", "checkers", multiple=True, help="Also judge with your own checker: "
              "module:function, a function (evidence) -> CheckResult; repeatable "
              "(docs/CONTRACTS.md, Checkers).")
@click.option("--junit", default=None, help="Also write JUnit XML here, for CI systems.")
@click.option("--reports-dir", "--out", "out", default="reports",
              help="Where run directories are written (--out is the old name).")
@click.option("--progress/--no-progress", default=True, help="Live progress on stderr.")
@click.pass_context
def run(ctx: click.Context, scenario: str | None, target: str | None, stripe_url: str | None,
        database_url: str | None, users: int, spawn_rate: float | None, duration: float,
        processes: int, workers: int, seed: int, min_charges: int, junit: str | None, out: str,
        progress: bool, db_query: str | None, settle: float, service_pid: int | None,
        adapter: str | None, checkers: tuple[str, ...], until_charges: int | None) -> None:
    """Run a load SCENARIO against a target and prove no payment was charged twice.

    Exit codes: 0 verified, 1 violation, 2 bad input, 3 a part could not start,
    4 inconclusive (too little work to judge, or the target died before the end).
    """
    from harness.runner.run import execute  # Locust and the checkers load only when running

    spec = build_spec(scenario, target, stripe_url, typed_database_url(ctx, database_url),
                      users, spawn_rate, duration, processes, workers, seed, junit, out,
                      progress, min_charges, db_query=db_query, settle=settle,
                      service_pid=service_pid, adapter=adapter, server_url=database_url,
                      checkers=checkers, until_charges=until_charges)
    try:
        result = execute(spec)
    except KeyboardInterrupt:
        # The parts were stopped on the way out; an interrupted run proves nothing.
        raise Interrupted("interrupted; the load and every part started for it were stopped"
                          ) from None
    print_result(result.summary, result.run_dir)
    ctx.exit(result.exit_code)
