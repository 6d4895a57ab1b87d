"""Services payrace has never seen, with nothing but --target and --stripe-url: correct ones
verified by `explore` and by `run retry_storm` / `run chaos`; each flawed one
caught by `explore` naming the checker that shows its money problem, and by a scenario.

The services (tests/services/, and the Node.js, Go and Flask services of examples/) are
independent HTTP services with their own PostgreSQL
database, worker processes and a background reconciler with a lease; none offers
`/_admin/health` or `/_admin/reconcile`. Every service has its own stand-in, so the
jobs run side by side, each against a fresh service of its own (each job is a real `payrace`
process, mostly waiting on the services' leases).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.provision.postgres import Provisioned
from harness.stripe_standin import running_standin
from tests.services.launch import (
    ADAPTERS,
    OwnService,
    running_flask_example,
    running_go_example,
    running_node_example,
    running_own_service,
)

pytestmark = [pytest.mark.quality, pytest.mark.integration, pytest.mark.slow]

RUN_ARGS = ("--users", "8", "--duration", "12s", "--no-progress")
# A correct service only has to do enough work to be judged: a shorter load.
CORRECT_RUN_ARGS = ("--users", "8", "--duration", "8s", "--no-progress")
# Jobs at once, each with its own service and stand-in: explores mostly wait on leases.
PARALLEL_JOBS = 6


@dataclass(frozen=True)
class Job:
    """One payrace command against one service, and what it must conclude."""

    service: str
    mode: str
    argv: tuple[str, ...]  # after `payrace`; --target, --stripe-url, --reports-dir are added
    exit_code: int
    checker: str | None = None  # the headline checker of a violation
    own_parts: bool = False  # also give --database-url and --service-pid: every fault family

    @property
    def id(self) -> str:
        words = [w for w in self.argv if not w.startswith("-") and not w.isdigit()]
        seed = self.argv[self.argv.index("--seed") + 1] if "--seed" in self.argv else ""
        return "-".join([self.service, self.mode, *words[:2], seed]).rstrip("-")


def _explore(service: str, mode: str, seed: int, code: int, checker: str | None = None,
             *, own_parts: bool = False) -> Job:
    # With every fault family on, a smaller budget: each worker kill holds a charge 2.5 s.
    # A correct service's explore runs to its budget (a flawed one stops at its violation):
    # 30 examples each keeps the suite's time (docs/PERFORMANCE.md has the longer runs).
    if own_parts:
        budget: tuple[str, ...] = ("--max-examples", "25")
    else:
        budget = ("--max-examples", "30") if code == 0 else ()
    return Job(service, mode, ("explore", "--seed", str(seed), *budget), code, checker,
               own_parts)


def _run(scenario: str, service: str, mode: str, code: int, checker: str | None = None,
         *, own_parts: bool = False) -> Job:
    args = CORRECT_RUN_ARGS if code == 0 else RUN_ARGS
    return Job(service, mode, ("run", scenario, *args), code, checker, own_parts)


JOBS = [
    # Correct designs: a PaymentIntent stored before it is confirmed; a stable key with its
    # own clock for key age and a search after a replayed 5xx.
    # Explored with every fault family: they also kill the service's database connections
    # and workers (--database-url, --service-pid). The examples below are explored with
    # nothing but --target and --stripe-url.
    _explore("orders_threads", "correct", 2, 0, own_parts=True),
    _run("retry_storm", "orders_threads", "correct", 0),
    _run("chaos", "orders_threads", "correct", 0),
    _explore("charges_aiohttp", "correct", 2, 0, own_parts=True),
    _run("retry_storm", "charges_aiohttp", "correct", 0),
    _run("chaos", "charges_aiohttp", "correct", 0, own_parts=True),
    # Flawed designs, each a different money problem.
    _explore("orders_threads", "ambiguous_failed", 1, 1, "db-consistency"),
    _run("retry_storm", "orders_threads", "ambiguous_failed", 1, "db-consistency"),
    _explore("charges_aiohttp", "fresh_key_redrive", 1, 1, "no-duplicate-charge"),
    _run("retry_storm", "charges_aiohttp", "fresh_key_redrive", 1, "no-duplicate-charge"),
    _explore("charges_aiohttp", "stable_key_forever", 1, 1, "no-duplicate-charge"),
    _run("chaos", "charges_aiohttp", "stable_key_forever", 1, "no-duplicate-charge"),
    # Trusts an empty search before charging with a fresh key: only search lag shows it.
    _explore("charges_aiohttp", "search_then_new_key", 1, 1, "no-duplicate-charge"),
    _run("retry_storm", "charges_aiohttp", "search_then_new_key", 1, "no-duplicate-charge"),
    # examples/node-express: Node.js, `pg` and the official stripe npm package.
    _explore("node_express", "correct", 1, 0),
    _run("retry_storm", "node_express", "correct", 0),
    _explore("node_express", "flawed", 1, 1, "no-duplicate-charge"),
    _run("retry_storm", "node_express", "flawed", 1, "no-duplicate-charge"),
    # examples/go-pr145: PR #145's own Go code, caught; it still passes its own proof (100
    # concurrent requests, no faults), as the Python port does; its fixed mode verified.
    _explore("go_pr145", "pr145", 1, 1, "no-duplicate-charge"),
    _run("retry_storm", "go_pr145", "pr145", 1, "no-duplicate-charge"),
    Job("go_pr145", "pr145", ("run", "pr_proof", "--users", "1", "--duration", "15s",
                              "--min-charges", "1", "--no-progress"), 0),
    _explore("go_pr145", "fixed", 1, 0),
    _run("retry_storm", "go_pr145", "fixed", 0),
    # examples/flask-orders: Flask under gunicorn with its own orders API, which payrace
    # speaks only through the adapter docs/TARGETS.md shows.
    _explore("flask_orders", "correct", 1, 0),
    _run("retry_storm", "flask_orders", "correct", 0),
    _explore("flask_orders", "flawed", 1, 1, "no-duplicate-charge"),
    _run("retry_storm", "flask_orders", "flawed", 1, "no-duplicate-charge"),
    # tests/services/invoices_stdlib: http.server pre-forked, raw Stripe HTTP, an API of its
    # own whose create answers 204 with nothing (the adapter keeps the id it chose).
    _explore("invoices_stdlib", "correct", 1, 0),
    _explore("invoices_stdlib", "flawed", 1, 1, "no-duplicate-charge"),
]


@dataclass
class Outcome:
    """What one job's payrace process did: its exit code, summary.json and last words."""

    code: int
    summary: dict[str, Any]
    output: str


def _payrace(job: Job, service: OwnService, stripe_url: str, reports: Path) -> Outcome:
    argv = [sys.executable, "-m", "harness.cli", *job.argv, "--target", service.url,
            "--stripe-url", stripe_url, "--reports-dir", str(reports)]
    if job.own_parts:
        argv += ["--database-url", service.database_url, "--service-pid", str(service.pid)]
    if job.service in ADAPTERS:
        argv += ["--adapter", ADAPTERS[job.service]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    runs = sorted(p for p in reports.glob("*/summary.json"))
    summary = json.loads(runs[-1].read_text()) if runs else {}
    return Outcome(done.returncode, summary, (done.stdout + done.stderr)[-3000:])


def _serving(job: Job, server_url: str, stripe_url: str) -> AbstractContextManager[OwnService]:
    if job.service == "node_express":
        return running_node_example(server_url, stripe_url, mode=job.mode)
    if job.service == "go_pr145":
        return running_go_example(server_url, stripe_url, mode=job.mode)
    if job.service == "flask_orders":
        return running_flask_example(server_url, stripe_url, mode=job.mode)
    return running_own_service(job.service, server_url, stripe_url, mode=job.mode)


@pytest.fixture(scope="module")
def outcomes(postgres_server: Provisioned, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Outcome]]:
    """Every job's outcome; each job gets a fresh service and stand-in, a few run at once."""

    def one(job: Job) -> Outcome:
        with running_standin(seed=0) as stripe_url, _serving(
            job, postgres_server.url, stripe_url
        ) as service:
            return _payrace(job, service, stripe_url, tmp_path_factory.mktemp(job.id))

    # Explores first: they take longest, and mostly wait on the services' leases.
    ordered = sorted(JOBS, key=lambda job: job.argv[0] != "explore")
    with ThreadPoolExecutor(max_workers=PARALLEL_JOBS) as pool:
        futures = {job.id: pool.submit(one, job) for job in ordered}
        yield {name: future.result() for name, future in futures.items()}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("job", JOBS, ids=[job.id for job in JOBS])
def test_own_service_gets_the_true_verdict(job: Job, outcomes: dict[str, Outcome]) -> None:
    """Exit 0 for a correct service; exit 1 naming the checker of the flaw for a flawed one."""
    outcome = outcomes[job.id]
    assert outcome.code == job.exit_code, outcome.output
    summary = outcome.summary
    assert summary.get("exit_code") == job.exit_code, outcome.output
    coverage = summary["coverage"]
    # Nothing but the three endpoints (and, for one, snapshot and clock) was asked for.
    assert coverage["abilities"]["reconcile"] is False
    if job.mode == "correct" and job.service == "charges_aiohttp":
        assert coverage["abilities"]["snapshot"] and coverage["abilities"]["clock"]
        assert coverage["database_view"] == "GET /_admin/snapshot"
    elif job.service in ADAPTERS:
        assert coverage["abilities"]["adapter"] == ADAPTERS[job.service]
        assert coverage["database_view"].startswith("payrace's own reads through the adapter")
    else:
        assert coverage["database_view"].startswith("payrace's own GET /payments/{id}")
    if job.own_parts:
        applied = {f["family"] for f in coverage["faults"] if f["applies"]}
        assert {"provider", "database", "workers", "clock"} <= applied
    checks = {c["checker"]: c for c in summary["checks"]}
    if job.exit_code == 0:
        assert all(c["validity"] == "valid" for c in checks.values()), checks
        assert checks["db-consistency"]["validity"] == "valid"  # judged, not unknown
        return
    if job.argv[0] == "explore":
        assert summary["counterexample"]["checker"] == job.checker, summary["reason"]
    assert checks[str(job.checker)]["validity"] == "invalid", summary.get("reason")
    assert checks[str(job.checker)]["violations"], "a violation carries its evidence"


def test_a_service_wired_to_another_stand_in_is_exit_3_never_a_violation(
    postgres_server: Provisioned, tmp_path: Path
) -> None:
    """Preflight: the service charges a different stand-in, so payrace says so and stops."""
    with running_standin(seed=1) as theirs, running_standin(seed=2) as ours, \
            running_own_service("orders_threads", postgres_server.url, theirs) as service:
        for command in (["explore"], ["run", "steady", *RUN_ARGS]):
            done = subprocess.run(
                [sys.executable, "-m", "harness.cli", *command, "--target", service.url,
                 "--stripe-url", ours, "--reports-dir", str(tmp_path)],
                capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 3, done.stdout + done.stderr
            lines = [line for line in done.stderr.splitlines() if line.startswith("payrace: ")]
            assert "saw no request at all" in lines[-1]
            assert "another Stripe URL" in lines[-1]
            assert "Traceback" not in done.stderr
    assert not [p for p in tmp_path.iterdir() if p.is_dir()], "no empty run directory is left"
