"""The ceiling benchmark's target honours payrace's contract: payrace verifies it under steady."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.ceiling_target import running_target
from harness.ledger import is_money_charge
from harness.stripe_standin import StandinAdmin
from tests.integration.run_helpers import only_run_dir, payrace

pytestmark = pytest.mark.integration


@pytest.fixture
def target(standin: str) -> Iterator[str]:
    with running_target(standin) as (url, _pid):
        yield url


def test_steady_against_it_is_verified(standin: str, target: str, tmp_path: Path) -> None:
    """A short `payrace run steady` as the benchmark runs it (no think time, no provider
    latency) ends verified, judged on the target's snapshot."""
    env = dict(os.environ, PAYRACE_THINK_MS="0", PAYRACE_PROVIDER_LATENCY_MS="0")
    done = payrace("run", "steady", "--target", target, "--stripe-url", standin,
                   "--users", "4", "--duration", "1s", "--settle", "5",
                   "--reports-dir", str(tmp_path), "--no-progress", env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["verdict"] == "verified"
    assert summary["coverage"]["database_view"].startswith("GET /_admin/snapshot")
    assert summary["stats"]["charges"] >= 20


def test_concurrent_charges_charge_once_and_a_decline_charges_nothing(
        standin_admin: StandinAdmin, target: str) -> None:
    """Ten charges of one payment at once: one stand-in charge, the others 409 or its 200;
    the `decline` customer gets 402 and no money moves."""
    with httpx.Client(base_url=target, timeout=10) as client:
        paid = client.post("/payments", json={"amount": 1500, "currency": "usd"}).json()["id"]
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda _: client.post(f"/payments/{paid}/charge").status_code,
                                  range(10)))
        declined = client.post("/payments", json={"amount": 1500, "currency": "usd",
                                                  "customer": "decline"}).json()["id"]
        assert client.post(f"/payments/{declined}/charge").status_code == 402
        rows = {r["id"]: r for r in client.get("/_admin/snapshot").json()}
    assert set(codes) <= {200, 409} and 200 in codes, codes
    charges = [e for e in standin_admin.ledger_entries("charge") if is_money_charge(e)]
    assert [c["payment_id"] for c in charges] == [paid]
    assert rows[paid]["status"] == "completed" and rows[paid]["charge_id"] == charges[0]["id"]
    assert rows[declined]["status"] == "failed"
