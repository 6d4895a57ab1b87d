"""`payrace run` outcomes beyond verified/violation: too little work, and a target that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.provision.postgres import Provisioned, fresh_database
from harness.provision.service import running_service
from harness.runner.stack import listening_pid
from tests.fixtures_postgres import REFERENCE_SCHEMA
from tests.integration.run_helpers import check, check_junit, check_summary, only_run_dir, payrace

pytestmark = pytest.mark.integration


def test_too_few_charges_is_inconclusive_never_a_pass(postgres_server: Provisioned,
                                                       tmp_path: Path) -> None:
    """A run that executed fewer charges than --min-charges exits 4, and JUnit fails it."""
    out = tmp_path / "reports"
    result = payrace("run", "steady", "--target", "reference:safe", "--users", "1",
                     "--duration", "2s", "--min-charges", "100000",
                     "--database-url", postgres_server.url, "--out", str(out), "--no-progress")
    run_dir = only_run_dir(out)
    summary = check_summary(run_dir, "inconclusive")
    assert result.returncode == 4, result.stdout + result.stderr
    assert check(summary, "enough-work")["validity"] == "unknown"
    assert check(summary, "no-duplicate-charge")["validity"] == "valid"
    assert "INCONCLUSIVE" in result.stdout
    check_junit(run_dir / "junit.xml", summary)


def _kill_service_after(url: str, delay: float) -> threading.Thread:
    def kill() -> None:
        time.sleep(delay)
        pid = listening_pid(url)
        assert pid is not None, f"nothing listens on {url}"
        supervisor = psutil.Process(pid)
        victims = [*supervisor.children(recursive=True), supervisor]
        for process in victims:
            os.kill(process.pid, signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_until_charges_stops_the_load_once_that_many_payments_are_charged(
        postgres_server: Provisioned, tmp_path: Path) -> None:
    """A soak's stop: the load ends at N charged payments, long before its --duration, and
    the run is judged as any other (every one of the N and those in flight)."""
    out = tmp_path / "reports"
    result = payrace("run", "steady", "--target", "reference:safe", "--users", "4",
                     "--duration", "5m", "--until-charges", "40", "--min-charges", "1",
                     "--database-url", postgres_server.url, "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = check_summary(only_run_dir(out), "verified")
    load = summary["load"]
    assert load["until_charges"] == 40
    assert load["charged_enough_at_s"] is not None and load["elapsed_s"] < 120, load
    ledger = [json.loads(line) for line in
              (only_run_dir(out) / "ledger.jsonl").read_text().splitlines()]
    charged = {e["payment_id"] for e in ledger if e["kind"] == "charge"}
    assert len(charged) >= 40
    assert "--until-charges 40" in summary["command"]


def test_target_that_dies_mid_run_still_gets_a_report(postgres_server: Provisioned,
                                                      standin: str, tmp_path: Path) -> None:
    """Kill the whole service 3 s into a 20 s run: the run stops early, judges what it saw,
    writes its report, says the target died, and is never a pass."""
    out = tmp_path / "reports"
    with fresh_database(postgres_server.url, "t_dies", REFERENCE_SCHEMA) as database_url, \
            running_service("safe", 2, database_url, standin) as url:
        killer = _kill_service_after(url, 3.0)
        result = payrace("run", "steady", "--target", url, "--stripe-url", standin,
                         "--users", "4", "--duration", "20s", "--min-charges", "1",
                         "--out", str(out), "--no-progress")
        killer.join(timeout=5)
    assert "Traceback" not in result.stderr, result.stderr
    run_dir = only_run_dir(out)
    summary = check_summary(run_dir, "inconclusive")
    assert result.returncode == 4
    # The load phase ended when the target died, not at the end of its 20 s (payrace's own
    # start and judging around it are not the claim, and vary with the machine's load).
    assert summary["load"]["elapsed_s"] < 20, summary["load"]
    assert summary["target_died"] and summary["target_died"]["at_s"] < 10
    assert any("died" in note for note in summary["notes"])
    assert check(summary, "target-alive")["validity"] == "unknown"
    assert summary["stats"]["operations"] > 0, "what it saw before the death is judged"
    assert (run_dir / "index.html").is_file()
    assert "died" in (run_dir / "index.html").read_text()
    check_junit(run_dir / "junit.xml", summary)
    assert json.loads((run_dir / "summary.json").read_text())["exit_code"] == 4


def test_http_target_without_a_service_is_a_provisioning_error(standin: str,
                                                               tmp_path: Path) -> None:
    """A --target URL where nothing listens exits 3 with one line, and starts no load."""
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago, and nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from harness.cli import main; main()", "run", "steady",
         "--target", f"http://127.0.0.1:{port}", "--stripe-url", standin, "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().startswith("payrace: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_users_checkers_judge_the_run_and_decide_its_verdict(
        postgres_server: Provisioned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `--checker module:function`: both judge the run after the built-in checkers; the one
    every real charge breaks makes it a violation, in summary.json, JUnit and the report."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # where tests.own_checkers imports
    out = tmp_path / "reports"
    result = payrace("run", "steady", "--target", "reference:safe", "--users", "1",
                     "--duration", "2s", "--min-charges", "1",
                     "--database-url", postgres_server.url, "--out", str(out), "--no-progress",
                     "--checker", "tests.own_checkers:check_charge_cap",
                     "--checker", "tests.own_checkers:check_penny_cap")
    run_dir = only_run_dir(out)
    summary = check_summary(run_dir, "violation")
    assert result.returncode == 1, result.stdout + result.stderr
    assert [c["checker"] for c in summary["checks"]] == [
        "no-duplicate-charge", "charge-bounds", "db-consistency", "target-contract",
        "retry-key-stability", "enough-work", "charge-cap", "penny-cap",
    ]
    assert {c["checker"] for c in summary["checks"] if c["validity"] != "valid"} == {"penny-cap"}
    penny = check(summary, "penny-cap")
    assert penny["severity"] == "error" and penny["violations"]
    assert penny["violations"][0]["because"].endswith("cents, more than the cap of 1")
    assert "--checker tests.own_checkers:check_penny_cap" in summary["command"]
    assert "penny-cap" in result.stdout
    check_junit(run_dir / "junit.xml", summary)
    assert 'data-checker="charge-cap"' in (run_dir / "index.html").read_text()
