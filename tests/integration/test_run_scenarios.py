"""`payrace run` end to end, per scenario: `safe` is verified and a flawed variant is caught.

Real parts throughout: the session's PostgreSQL, a stand-in and the reference service with
two worker processes per run, Locust as a subprocess. Each pairing is chosen so the verdict
is deterministic: double_click's gate makes every click race (naive charges each time);
retry_storm drops provider responses that pr145's retries then charge again; steady's
concurrent double submits race naive's check-then-act; chaos's failed commits and crashed
workers after a charge make pr145's retries charge twice; webhook_storm delivers a third of the
events twice, and dunning charges a backup card on each delivery of a charge.failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.provision.postgres import Provisioned
from tests.integration.run_helpers import (
    check,
    check_history,
    check_junit,
    check_summary,
    only_run_dir,
    payrace,
)

pytestmark = pytest.mark.integration

CASES = [
    ("double_click", "safe", "verified", []),
    ("double_click", "naive", "violation", []),
    ("retry_storm", "safe", "verified", []),
    ("retry_storm", "pr145", "violation", []),
    # Two Locust processes: their histories are merged into one.
    ("steady", "safe", "verified", ["--processes", "2"]),
    ("steady", "naive", "violation", []),
    ("chaos", "safe", "verified", []),
    ("chaos", "pr145", "violation", []),
    ("webhook_storm", "safe", "verified", []),
    ("webhook_storm", "dunning", "violation", []),
]


@pytest.mark.parametrize(("scenario", "variant", "verdict", "extra"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_scenario_verdict(scenario: str, variant: str, verdict: str, extra: list[str],
                          postgres_server: Provisioned, tmp_path: Path) -> None:
    """The run exits by its verdict and leaves summary.json, junit.xml, history, ledger, report."""
    out, junit = tmp_path / "reports", tmp_path / "ci" / "junit.xml"
    result = payrace("run", scenario, "--target", f"reference:{variant}", "--users", "8",
                     "--duration", "5s", "--database-url", postgres_server.url, "--out", str(out),
                     "--junit", str(junit), "--no-progress", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    run_dir = only_run_dir(out)
    summary = check_summary(run_dir, verdict)
    assert result.returncode == summary["exit_code"], result.stdout + result.stderr
    check_junit(junit, summary)
    check_junit(run_dir / "junit.xml", summary)
    ops = check_history(run_dir)
    assert (run_dir / "ledger.jsonl").stat().st_size > 0
    assert (run_dir / "index.html").is_file() and (out / "index.html").is_file()
    assert summary["parts"]["target"]["variant"] == variant
    assert check(summary, "enough-work")["validity"] == "valid"
    duplicates = check(summary, "no-duplicate-charge")
    if verdict == "violation":
        assert duplicates["validity"] == "invalid"
        assert duplicates["violations"] and all(v["because"] for v in duplicates["violations"])
        assert summary["stats"]["duplicated_payments"] >= 1
    else:
        assert duplicates["validity"] == "valid"
        assert summary["stats"]["duplicated_payments"] == 0
    assert any(op["f"] == "reconcile" for op in ops), "the reconciler ran after quiescence"
    if extra:
        processes = {op["process"].split("-")[0] for op in ops if op["process"] != "runner"}
        assert len(processes) == 2, processes
    if scenario in ("retry_storm", "chaos"):
        assert summary["faults"], "the faults injected are in the summary"
