"""`payrace run`: drive a Locust scenario against a target, check the evidence, exit by verdict."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from harness.adapters.load import checked_adapter
from harness.errors import UsageError
from harness.runner.load import scenario_knobs
from harness.runner.spec import (
    RunSpec,
    available_scenarios,
    check_writable,
    parse_count,
    parse_duration,
    parse_rate,
    parse_seconds,
    parse_target,
    resolve_scenario,
)
from harness.targets.view import validate_db_query


def build_spec(scenario: str | None, target: str | None, stripe_url: str | None,
               database_url: str | None, users: str, spawn_rate: str | None, duration: str,
               processes: str, workers: str, seed: str, junit: str | None, out: str,
               progress: bool, min_charges: str = "20", db_query: str | None = None,
               settle: str = "15", service_pid: str | None = None,
               adapter: str | None = None, checkers: tuple[str, ...] = ()) -> RunSpec:
    """Validate every flag, in the order a user reads them, before anything starts."""
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
    n_users = parse_count(users, "--users")
    rate = parse_rate(spawn_rate, "--spawn-rate") if spawn_rate is not None else float(n_users)
    seconds = parse_duration(duration)
    n_processes = parse_count(processes, "--processes")
    n_workers = parse_count(workers, "--workers")
    n_min_charges = parse_count(min_charges, "--min-charges")
    try:
        n_seed = int(seed)
    except ValueError:
        raise UsageError(f"--seed: expected a whole number, got {seed!r}") from None
    query = validate_db_query(db_query, database_url)
    if query is not None and parsed_target.kind != "http":
        raise UsageError("--db-query applies to your own service (--target http://…)")
    settle_s = parse_seconds(settle, "--settle")
    pid = parse_count(service_pid, "--service-pid") if service_pid is not None else None
    if pid is not None and parsed_target.kind != "http":
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
    return RunSpec(
        scenario=path.stem, scenario_path=path, target=parsed_target, users=n_users,
        spawn_rate=rate, duration_s=seconds, processes=n_processes, workers=n_workers,
        seed=n_seed, stripe_url=stripe_url, database_url=database_url, out_dir=out_dir,
        junit=junit_path, command="payrace " + shlex.join(sys.argv[1:]), progress=progress,
        min_charges=n_min_charges, scenario_env=scenario_knobs(os.environ),
        db_query=query, settle_s=settle_s, service_pid=pid, adapter=adapter_spec,
        checkers=own_checkers,
    )


def print_result(summary: dict[str, object], run_dir: Path) -> None:
    """The verdict, each check in one line, and where the report is."""
    verdict = str(summary.get("verdict", "?"))
    colour = {"verified": "green", "violation": "red"}.get(verdict, "yellow")
    click.echo(click.style(f"{verdict.upper()} ", fg=colour, bold=True)
               + f"{summary.get('scenario')} → {summary.get('target')} "
               f"(exit {summary.get('exit_code')})")
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
@click.option("--database-url", help="reference targets: the PostgreSQL server to use (default: "
              "an embedded one); your service: its own database (for --db-query and database "
              "connection kills in chaos).")
@click.option("--db-query", default=None, help="Your service: a read-only SELECT on "
              "--database-url returning id, status, charge_id, amount (the database view when "
              "it offers no /_admin/snapshot).")
@click.option("--settle", default="15", help="Seconds payrace waits, after the load, for the "
              "target to finish its own work (a reconciler's leases).")
@click.option("--service-pid", default=None, help="Your service: its supervisor's process id; "
              "chaos SIGKILLs its worker processes.")
@click.option("--adapter", default=None, help="Your service's own API: path/to/file.py:ClassName "
              "saying how to create, charge and read a payment (docs/TARGETS.md).")
@click.option("--users", "-u", default="10", help="Concurrent Locust users.")
@click.option("--spawn-rate", "-r", default=None, help="Users started per second (default: all "
              "at once).")
@click.option("--duration", "-t", default="30s", help="How long the load runs: 30s, 2m, 1m30s.")
@click.option("--processes", default="1", help="Locust processes on this machine.")
@click.option("--workers", default="2", help="Worker processes of the reference service.")
@click.option("--seed", default="0", help="Seed of every random choice (faults, amounts).")
@click.option("--min-charges", default="20", help="Fewer charge executions than this and "
              "the run is inconclusive (exit 4).")
@click.option("--checker", "checkers", multiple=True, help="Also judge with your own checker: "
              "module:function, a function (evidence) -> CheckResult; repeatable "
              "(docs/CONTRACTS.md, Checkers).")
@click.option("--junit", default=None, help="Also write JUnit XML here, for CI systems.")
@click.option("--reports-dir", "--out", "out", default="reports",
              help="Where run directories are written (--out is the old name).")
@click.option("--progress/--no-progress", default=True, help="Live progress on stderr.")
@click.pass_context
def run(ctx: click.Context, scenario: str | None, target: str | None, stripe_url: str | None,
        database_url: str | None, users: str, spawn_rate: str | None, duration: str,
        processes: str, workers: str, seed: str, min_charges: str, junit: str | None, out: str,
        progress: bool, db_query: str | None, settle: str, service_pid: str | None,
        adapter: str | None, checkers: tuple[str, ...]) -> None:
    """Run a load SCENARIO against a target and prove no payment was charged twice.

    Exit codes: 0 verified, 1 violation, 2 bad input, 3 a part could not start,
    4 inconclusive (too little work to judge, or the target died before the end).
    """
    from harness.runner.run import execute  # Locust and the checkers load only when running

    spec = build_spec(scenario, target, stripe_url, database_url, users, spawn_rate, duration,
                      processes, workers, seed, junit, out, progress, min_charges,
                      db_query=db_query, settle=settle, service_pid=service_pid,
                      adapter=adapter, checkers=checkers)
    try:
        result = execute(spec)
    except KeyboardInterrupt:
        # The parts were stopped on the way out; an interrupted run proves nothing.
        click.echo("payrace: interrupted; the load and every part started for it were stopped",
                   err=True)
        ctx.exit(130)
    print_result(result.summary, result.run_dir)
    ctx.exit(result.exit_code)
