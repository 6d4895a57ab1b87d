"""PostgreSQL itself stopped and started mid-load: `payrace run chaos` on a server payrace started
restarts it, and `safe` still never charges twice, loses nothing and keeps charging after."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.run_helpers import check_summary, only_run_dir, payrace

pytestmark = pytest.mark.integration


def test_safe_under_chaos_with_a_postgres_restart_is_verified(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    # No --database-url: payrace starts the server, so it is payrace's to stop and start.
    env = {k: v for k, v in os.environ.items() if k != "PAYRACE_DATABASE_URL"}
    done = payrace("run", "chaos", "--target", "reference:safe", "--users", "8",
                   "--duration", "20s", "--seed", "1", "--out", str(out), "--no-progress",
                   timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = only_run_dir(out)
    summary = check_summary(run_dir, "verified")
    assert summary["parts"]["postgres"]["tier"] == "embedded"
    [database] = [f for f in summary["coverage"]["faults"] if f["family"] == "database"]
    assert database["applies"] and "stopped and started again" in database["why"]

    faults = [json.loads(line) for line in (run_dir / "faults.jsonl").read_text().splitlines()]
    restarts = [f for f in faults if f["action"] == "restart-postgres" and "skipped" not in f]
    assert restarts, [f["action"] for f in faults]
    assert restarts[0]["down_s"] >= 1.0  # RESTART_DOWN_S: the server really was down
    # The service came back: payments were charged after the server did.
    back = restarts[0]["wall"] + restarts[0]["down_s"]
    ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    after = [e for e in ledger if e["kind"] == "charge" and e.get("wall", e["time"]) > back]
    assert len(after) >= 5, f"{len(after)} charges after the restart"
    checks = {c["checker"]: c for c in summary["checks"]}
    assert checks["no-duplicate-charge"]["validity"] == "valid"
    assert checks["db-consistency"]["validity"] == "valid"
