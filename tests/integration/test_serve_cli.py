"""`payrace serve`: refuses bad input with the documented exit codes, serves a payment end to end,
and leaves no process behind on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from click.testing import CliRunner

from harness.cli import main

pytestmark = pytest.mark.integration

PAYRACE = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unknown_variant_exits_2_listing_the_variants() -> None:
    result = CliRunner().invoke(main, ["serve", "--variant", "nope"])
    assert result.exit_code == 2
    for name in ("naive", "mutex", "pr145", "safe", "dunning"):
        assert name in result.output
    assert "Traceback" not in result.output


def test_a_database_url_that_does_not_answer_exits_3_naming_host_and_cause() -> None:
    port = _closed_port()
    result = CliRunner().invoke(
        main, ["serve", "--variant", "safe", "--database-url", f"postgresql://u@127.0.0.1:{port}/x"]
    )
    assert result.exit_code == 3
    assert f"127.0.0.1:{port}" in result.output and "refused" in result.output.lower()
    assert result.output.startswith("payrace: ") and result.output.count("\n") == 1


def test_docker_postgres_without_an_engine_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/payrace/docker.sock")
    monkeypatch.delenv("PAYRACE_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["serve", "--variant", "safe", "--postgres", "docker"])
    assert result.exit_code == 3
    assert "no Docker engine answered" in result.output


def _read_banner(process: subprocess.Popen[str], timeout: float) -> dict[str, str]:
    """The URLs serve prints, read from its stdout until "Press Ctrl-C"."""
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    text = "".join(lines)
    found = dict(re.findall(r"^\s+(service|database|stripe)\s+(\S+)", text, re.MULTILINE))
    assert set(found) == {"service", "database", "stripe"}, f"serve printed: {text!r}"
    return found


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_serve_safe_with_two_workers_serves_a_payment_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PAYRACE_DATABASE_URL"}
    env["DOCKER_HOST"] = "unix:///nonexistent/payrace/docker.sock"  # auto → embedded, always
    errors = (tmp_path / "serve.err").open("w")  # the service's own log lines go here
    process = subprocess.Popen(
        [*PAYRACE, "serve", "--variant", "safe", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env=env,
    )
    try:
        urls = _read_banner(process, timeout=60)
        service = urls["service"]
        payment = httpx.post(service + "/payments", json={"amount": 4200}, timeout=10).json()
        charged = httpx.post(f"{service}/payments/{payment['id']}/charge", timeout=30)
        assert charged.status_code == 200 and charged.json()["status"] == "completed"
        ledger = httpx.get(urls["stripe"] + "/_standin/ledger", timeout=10).json()["entries"]
        assert [e["payment_id"] for e in ledger if e["kind"] == "charge"] == [payment["id"]]

        # Everything serve started: its children (stand-in, uvicorn and workers) and the
        # PostgreSQL server, found by the data directory in the printed database URL.
        started = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
        socket_dir = urls["database"].split("host=", 1)[1]
        postgres = [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if socket_dir in " ".join(p.info["cmdline"] or [])
        ]
        assert len(started) >= 4 and postgres, (started, postgres)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in started + postgres) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in started + postgres if _alive(pid)] == []
        assert not Path(socket_dir).exists()  # the temporary data directory is gone too
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.close()
