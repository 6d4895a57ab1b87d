"""Evidence from a service payrace has never seen: only this run's payments, the SQL view, and a
service that a database fault leaves unable to work (inconclusive, never a crash)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.history import load_history
from harness.model import PartsRequest, explore, open_environment
from harness.provision.postgres import Provisioned
from harness.stripe_standin import running_standin
from tests.integration.broken_target import serving_app
from tests.integration.fragile_target import build_app
from tests.integration.run_helpers import payrace
from tests.services.launch import OwnService, own_database, running_own_service

pytestmark = pytest.mark.integration

SHORT_RUN = ("--users", "4", "--duration", "5s", "--min-charges", "5", "--no-progress")


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    with running_standin(seed=0) as url:
        yield url


@pytest.fixture(scope="module")
def long_lived(postgres_server: Provisioned, stand_in: str) -> Iterator[OwnService]:
    """A correct service that offers a snapshot of every row it ever held, across runs."""
    with running_own_service("charges_aiohttp", postgres_server.url, stand_in) as service:
        yield service


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_a_second_run_is_judged_on_its_own_payments_only(
    long_lived: OwnService, stand_in: str, tmp_path: Path
) -> None:
    """The service's snapshot still holds the first run's payments: the second run neither
    judges nor blames them, and its db.json holds exactly the payments it created."""
    for number in (1, 2):
        out = tmp_path / f"run{number}"
        done = payrace("run", "steady", "--target", long_lived.url, "--stripe-url", stand_in,
                       "--reports-dir", str(out), *SHORT_RUN)
        assert done.returncode == 0, done.stdout + done.stderr
        run_dir = _run_dir(out)
        created = {op.value["id"] for op in load_history(run_dir / "history.jsonl")
                   if op.f == "create" and op.type == "ok" and op.value}
        rows = json.loads((run_dir / "db.json").read_text())
        assert created and {row["id"] for row in rows} == created
        ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
        assert {e["payment_id"] for e in ledger if e.get("payment_id")} <= created
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["coverage"]["database_view"] == "GET /_admin/snapshot"
        checks = {c["checker"]: c["validity"] for c in summary["checks"]}
        assert checks["db-consistency"] == "valid"


def test_db_query_gives_the_view_of_a_service_without_a_snapshot(
    postgres_server: Provisioned, stand_in: str, tmp_path: Path
) -> None:
    """--database-url plus --db-query: the rows come from the service's own table, aliased."""
    query = ("SELECT id, state AS status, pi_id AS charge_id, amount, currency FROM orders")
    with running_own_service("orders_threads", postgres_server.url, stand_in) as service:
        done = payrace("run", "steady", "--target", service.url, "--stripe-url", stand_in,
                       "--database-url", service.database_url, "--db-query", query,
                       "--reports-dir", str(tmp_path), *SHORT_RUN)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["coverage"]["database_view"].startswith("--db-query")
    assert summary["coverage"]["abilities"]["database_url"] == "given"  # never the password
    checks = {c["checker"]: c for c in summary["checks"]}
    assert checks["db-consistency"]["validity"] == "valid"
    assert checks["db-consistency"]["stats"]["rows"] > 0


def test_a_bad_db_query_is_one_line_exit_2(tmp_path: Path, stand_in: str) -> None:
    """A query that is not one SELECT is refused before anything starts."""
    done = payrace("run", "steady", "--target", "http://127.0.0.1:9", "--stripe-url", stand_in,
                   "--database-url", "postgresql://u@127.0.0.1:1/db", "--db-query",
                   "DELETE FROM orders", "--reports-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "payrace: --db-query: expected one SELECT returning columns id, status, charge_id, "
        "amount (currency optional), got 'DELETE FROM orders'"
    ]


def test_a_service_that_cannot_recover_its_database_connection_is_inconclusive(
    postgres_server: Provisioned, stand_in: str
) -> None:
    """After its only connection is terminated the service creates nothing more: the model
    cannot go on, and explore says why (inconclusive) instead of failing with a traceback."""
    with own_database(postgres_server.url, "fragile") as database_url, serving_app(
        build_app(database_url, stand_in)
    ) as url, open_environment(
        PartsRequest(target=url, workers=2, faults=("database",), stripe_url=stand_in,
                     database_url=database_url)
    ) as (env, _parts):
        result = explore(env, max_examples=100, seed=4, steps=8)
    assert result.verdict == "inconclusive", result.reason
    assert "stopped creating payments" in result.reason
    assert "connection pool does not recover" in result.reason
