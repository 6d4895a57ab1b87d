"""Locust's master/worker mode, as docs/LOAD.md describes it: workers record, the master merges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.provision.service import running_service
from harness.runner.spec import scenarios_dir
from harness.stripe_standin import StandinAdmin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def safe_service(postgres_url: str, standin_url: str) -> Iterator[str]:
    with running_service("safe", 2, postgres_url, standin_url) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_master_and_worker_record_one_history(safe_service: str, standin_url: str,
                                              standin_admin: StandinAdmin,
                                              tmp_path: Path) -> None:
    """A headless master with one worker process: the master arms the faults and runs no
    users, the worker records its part, and the master merges it into the history on exit."""
    history, port = tmp_path / "history.jsonl", _free_port()
    scenario = str(scenarios_dir() / "retry_storm.py")
    base = {**os.environ, "PAYRACE_HISTORY": str(history)}
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", scenario, "--master", "--headless",
         "--expect-workers", "1", "--master-bind-host", "127.0.0.1", "--master-bind-port",
         str(port), "-u", "4", "-r", "4", "-t", "3s", "--host", safe_service,
         "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING"],
        env={**base, "PAYRACE_STANDIN_URL": standin_url}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", scenario, "--worker", "--master-host",
         "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"],
        env=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        master_out, _ = master.communicate(timeout=60)
        worker.communicate(timeout=30)
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
    assert master.returncode == 0, master_out[-2000:]
    ops = [json.loads(line) for line in history.read_text().splitlines()]
    assert ops, "the worker's operations reached the merged history"
    assert [op["index"] for op in ops] == list(range(len(ops)))
    assert {op["process"].split("-")[0] for op in ops} == {str(worker.pid)}
    assert not list(tmp_path.glob("history.jsonl.part-*"))
    faults = [json.loads(line) for line in (tmp_path / "faults.jsonl").read_text().splitlines()]
    assert [f["action"] for f in faults] == ["lost responses"], "armed once, by the master"
    assert any(e.get("fault") for e in standin_admin.ledger()["entries"])
