"""Every flawed variant is caught for the right reason, and `safe` survives every fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.model import PartsRequest, explore, open_environment
from harness.model.environment import FAULT_FAMILIES
from harness.model.explore import ExploreResult
from harness.model.program import steps_in
from harness.provision.postgres import Provisioned

pytestmark = [pytest.mark.quality, pytest.mark.integration]

SEED = 1
MAX_SHRUNK_STEPS = 6


def _explore(
    variant: str,
    *,
    workers: int,
    faults: tuple[str, ...],
    max_examples: int,
    server: Provisioned,
    standin_url: str,
) -> ExploreResult:
    request = PartsRequest(
        target=f"reference:{variant}",
        workers=workers,
        faults=faults,
        stripe_url=standin_url,
        database_url=server.url,
        seed=SEED,
    )
    with open_environment(request) as (env, _parts):
        return explore(env, max_examples=max_examples, seed=SEED)


def _assert_caught(result: ExploreResult, checker: str) -> None:
    assert result.verdict == "violation", result.reason
    assert result.violation is not None and result.cause is not None
    assert result.violation.result.checker == checker
    assert not result.flaky
    assert 1 <= steps_in(result.program) <= MAX_SHRUNK_STEPS, result.program


def test_naive_is_caught_by_concurrent_requests(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """Two concurrent charges both read pending: no-duplicate-charge, caused by concurrency.

    No fault needed (with faults, a lost response is as likely to be found first)."""
    result = _explore(
        "naive", workers=2, faults=(), max_examples=100,
        server=postgres_server, standin_url=standin_url,
    )
    _assert_caught(result, "no-duplicate-charge")
    assert result.cause is not None and result.cause.kind == "concurrency"


def test_mutex_is_caught_with_two_workers(postgres_server: Provisioned, standin_url: str) -> None:
    """With two workers the per-process lock does not serialise them: a race across workers."""
    result = _explore(
        "mutex", workers=2, faults=(), max_examples=100,
        server=postgres_server, standin_url=standin_url,
    )
    _assert_caught(result, "no-duplicate-charge")
    assert result.cause is not None and result.cause.kind == "concurrency"
    assert "on workers w0, w1" in result.cause.sentence


def test_mutex_passes_with_one_worker(postgres_server: Provisioned, standin_url: str) -> None:
    """The same attack on one worker finds nothing: why the PR's single-process test passed."""
    result = _explore(
        "mutex", workers=1, faults=(), max_examples=60,
        server=postgres_server, standin_url=standin_url,
    )
    assert result.verdict == "verified", result.reason


def test_pr145_is_caught_through_a_lost_response_or_failed_commit(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """The charge succeeds but its answer or its commit is lost; the next attempt charges again."""
    result = _explore(
        "pr145", workers=2, faults=FAULT_FAMILIES, max_examples=100,
        server=postgres_server, standin_url=standin_url,
    )
    _assert_caught(result, "no-duplicate-charge")
    assert result.cause is not None
    assert result.cause.kind in ("lost-response-then-retry", "failed-commit-then-retry")
    assert any("fault='" in line or "failpoint='" in line for line in result.program)


def test_pr145_survives_concurrency_alone(postgres_server: Provisioned, standin_url: str) -> None:
    """FOR UPDATE serialises concurrent requests: without faults pr145 passes, as its test did."""
    result = _explore(
        "pr145", workers=2, faults=(), max_examples=60,
        server=postgres_server, standin_url=standin_url,
    )
    assert result.verdict == "verified", result.reason


def test_dunning_is_caught_by_a_duplicated_failure_event(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """Its webhook handler charges the backup card once per delivery: a duplicate charge.failed
    (the webhooks fault family alone) charges twice, and the cause names the redelivery."""
    result = _explore(
        "dunning", workers=2, faults=("webhooks",), max_examples=100,
        server=postgres_server, standin_url=standin_url,
    )
    _assert_caught(result, "no-duplicate-charge")
    assert result.cause is not None and result.cause.kind == "webhook-redelivery"
    assert "charge.failed event" in result.cause.sentence
    assert any("webhooks(kind='webhook_duplicate" in line for line in result.program)


def test_dunning_survives_without_webhook_faults(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """Every event delivered exactly once: the same flow is correct, as its own tests showed."""
    result = _explore(
        "dunning", workers=2, faults=("clock",), max_examples=40,
        server=postgres_server, standin_url=standin_url,
    )
    assert result.verdict == "verified", result.reason


def test_safe_passes_200_examples_under_every_fault(
    postgres_server: Provisioned, standin_url: str
) -> None:
    """Provider faults, failpoints, dropped connections, expired keys and webhooks delivered
    twice, late, out of order or lost then redelivered: every checker holds."""
    result = _explore(
        "safe", workers=2, faults=FAULT_FAMILIES, max_examples=200,
        server=postgres_server, standin_url=standin_url,
    )
    assert result.verdict == "verified", result.reason
    work = next(c for c in result.checks if c.checker == "enough-work")
    assert work.stats["examples"] >= 200
    assert all(c.validity == "valid" for c in result.checks if c.severity == "error")


def test_pr145_counterexample_file_replays_to_the_violation(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path
) -> None:
    """`payrace explore` exits 1 and writes counterexample.py; running it reproduces the charge."""
    payrace = Path(sys.executable).parent / "payrace"
    run = subprocess.run(
        [str(payrace), "explore", "--target", "reference:pr145", "--seed", str(SEED),
         "--database-url", postgres_server.url, "--stripe-url", standin_url,
         "--reports-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Shrunk program" in run.stdout
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (tmp_path / "index.html").is_file()  # the reports index lists the run
    for name in ("summary.json", "history.jsonl", "ledger.jsonl", "counterexample.py",
                 "index.html"):
        assert (run_dir / name).is_file(), name
    source = (run_dir / "counterexample.py").read_text()
    compile(source, "counterexample.py", "exec")
    replay = subprocess.run(
        [sys.executable, str(run_dir / "counterexample.py")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "violation reproduced — no-duplicate-charge" in replay.stdout


def test_explore_of_safe_exits_0_and_writes_its_report(
    postgres_server: Provisioned, standin_url: str, tmp_path: Path
) -> None:
    """A verified explore run still writes summary.json and a readable index.html, exit 0."""
    payrace = Path(sys.executable).parent / "payrace"
    run = subprocess.run(
        [str(payrace), "explore", "--target", "reference:safe", "--seed", str(SEED),
         "--max-examples", "20", "--database-url", postgres_server.url,
         "--stripe-url", standin_url, "--reports-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "could not write" not in run.stdout + run.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "verified" and summary["exit_code"] == 0
    assert "VERIFIED" in (run_dir / "index.html").read_text().upper()
