"""The stand-in as a process: running_standin(), `payrace stand-in`, no orphans, clean errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import psutil
import pytest

from harness.stripe_standin import TEST_API_KEY, StandinAdmin, running_standin

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
CHARGE = {"amount": "100", "currency": "usd", "source": "tok_visa",
          "metadata[payment_id]": "pay_p"}
PAYRACE = [sys.executable, "-c", "from harness.cli import main; main()"]


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def _start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PAYRACE, "stand-in", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )


def test_running_standin_serves_and_stops_its_process(tmp_path: Path) -> None:
    """It yields a loopback URL; on exit the process ends and --ledger is written."""
    ledger = tmp_path / "ledger.jsonl"
    with running_standin(seed=3, ledger=ledger) as url:
        assert url.startswith("http://127.0.0.1:")
        health = StandinAdmin(url).health()
        assert health["seed"] == 3 and health["pid"] != os.getpid()
        assert httpx.post(f"{url}/v1/charges", data=CHARGE, headers=AUTH).status_code == 200
    assert _gone(health["pid"])
    kinds = [json.loads(line)["kind"] for line in ledger.read_text().splitlines()]
    assert kinds == ["charge", "request"]


def test_no_orphan_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A parent SIGKILLed mid-test cannot clean up; the stand-in notices stdin closing and exits."""
    script = (
        "import time, sys\n"
        "from harness.stripe_standin import running_standin\n"
        "with running_standin() as url:\n"
        "    print(url, flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        url = parent.stdout.readline().strip()
        pid = StandinAdmin(url).health()["pid"]
        parent.kill()
        parent.wait(timeout=10)
        assert _gone(pid), "the stand-in outlived its killed parent"
    finally:
        parent.kill()


def test_cli_runs_until_interrupted_and_writes_the_ledger(tmp_path: Path) -> None:
    """`payrace stand-in --port 0 --ledger F` announces its URL, serves, on SIGINT writes F."""
    ledger = tmp_path / "out.jsonl"
    proc = _start_cli("--port", "0", "--ledger", str(ledger), "--seed", "5")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line and TEST_API_KEY in line
        url = line.split("listening on ")[1].split()[0]
        assert httpx.post(f"{url}/v1/charges", data=CHARGE, headers=AUTH).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
    assert len(ledger.read_text().splitlines()) == 2


def test_port_in_use_exits_3_with_one_line() -> None:
    """A port already taken: exit 3 and one line naming it, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*PAYRACE, "stand-in", "--port", str(port)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0] and str(port) in lines[0]
    assert "Traceback" not in result.stderr


def test_upstream_docker_without_an_engine_exits_3_saying_how_to_pass_a_url() -> None:
    """--upstream docker where no Docker engine answers: exit 3, one line, and the URL form."""
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/payrace-docker.sock")
    result = subprocess.run([*PAYRACE, "stand-in", "--port", "0", "--upstream", "docker"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Docker engine answered" in lines[0]
    assert "--upstream http://" in lines[0] and "Traceback" not in result.stderr


def test_upstream_url_that_nothing_answers_exits_3() -> None:
    """--upstream pointing at a closed port: exit 3 before serving."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = subprocess.run(
        [*PAYRACE, "stand-in", "--port", "0", "--upstream", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 3 and "nothing answered" in result.stderr


class _Validator(BaseHTTPRequestHandler):
    """A tiny stripe-mock stand-in: refuses amount=13 with a 400, accepts everything else."""

    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        _Validator.seen.append(f"{self.command} {self.path} {body}")
        if "amount=13" in body:
            payload = json.dumps({"error": {"type": "invalid_request_error",
                                            "message": "upstream says no", "param": "amount",
                                            "code": "upstream_check"}}).encode()
            self.send_response(400)
        else:
            payload = b'{"id": "ch_mock", "object": "charge"}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def validator() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Validator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Validator.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_upstream_4xx_is_returned_unchanged_and_nothing_is_stored(validator: str) -> None:
    """The upstream's 400 comes back as is; the key stays free; state and ledger stay ours."""
    with running_standin(upstream=validator) as url:
        headers = {**AUTH, "Idempotency-Key": "ku"}
        refused = httpx.post(f"{url}/v1/charges", data={**CHARGE, "amount": "13"},
                             headers=headers)
        assert refused.status_code == 400
        assert refused.json() == {"error": {"type": "invalid_request_error",
                                            "message": "upstream says no", "param": "amount",
                                            "code": "upstream_check"}}
        accepted = httpx.post(f"{url}/v1/charges", data=CHARGE, headers=headers)
        assert accepted.status_code == 200 and accepted.json()["id"] != "ch_mock"
        assert accepted.json()["id"].startswith("ch_")
        replay = httpx.post(f"{url}/v1/charges", data=CHARGE, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        admin = StandinAdmin(url)
        assert len(admin.charges("pay_p")) == 1
        assert admin.health()["upstream"] == validator
    assert sum(s.startswith("POST /v1/charges ") for s in _Validator.seen) == 3


def test_serving_in_thread_serves_the_same_api_and_stops() -> None:
    """The in-process start (for benchmarks) serves charges and frees its port on exit."""
    from harness.stripe_standin.server import serving_in_thread

    with serving_in_thread() as (url, state):
        assert httpx.post(f"{url}/v1/charges", data=CHARGE, headers=AUTH).status_code == 200
        assert len(state.ledger.entries("charge")) == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_standin/health", timeout=2)


def test_unwritable_ledger_path_is_refused_before_serving(tmp_path: Path) -> None:
    """--ledger naming a directory: exit 2 with one line, nothing served."""
    result = subprocess.run([*PAYRACE, "stand-in", "--port", "0", "--ledger", str(tmp_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--ledger" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_ledger_journal_survives_a_sigkill_of_the_standin(tmp_path: Path) -> None:
    """`--ledger-journal F`: every entry is in F as it happens, so SIGKILL loses none."""
    journal = tmp_path / "journal.jsonl"
    proc = _start_cli("--port", "0", "--ledger-journal", str(journal))
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].split()[0]
        for _ in range(3):
            assert httpx.post(f"{url}/v1/charges", data=CHARGE, headers=AUTH).status_code == 200
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()]
    assert kinds == ["charge", "request"] * 3
