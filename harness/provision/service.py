"""The reference service as a target: uvicorn with N worker processes on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from harness.errors import ProvisionError, UsageError
from harness.safety import check_provider_url
from reference_impl.config import ENV_VARIANT, TEST_API_KEY, ServiceConfig
from reference_impl.variants import VARIANTS, unknown_variant_message

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 8.0


def _log_tail(path: Path | None, lines: int = 3) -> str:
    if path is None:
        return ""
    try:
        text = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process remains in the group."""
    import psutil

    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False


def stop_process_group(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_S) -> None:
    """Ask the supervisor to stop its workers, then SIGKILL whatever is left of the group."""
    pgid = process.pid  # started with start_new_session: the leader's pid is the group id
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    # SIGTERM to the supervisor alone: signalling the whole group would kill the workers
    # first, and the supervisor would start replacements before it saw its own signal.
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(5)
    # Workers or helpers the supervisor failed to reap are still in the group.
    deadline = time.monotonic() + 3
    while _group_alive(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.05)


def _connect_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _wait_ready(
    process: subprocess.Popen[Any],
    state_dir: Path,
    host: str,
    workers: int,
    log: Path | None,
    timeout: float,
) -> str:
    """Wait for the bound port, every worker's ready marker, then a healthy answer."""
    deadline = time.monotonic() + timeout
    base_url: str | None = None
    last_problem = "no port bound yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise ProvisionError(
                    f"The reference service exited with code {code} while starting: "
                    f"{_log_tail(log) or 'no output'}"
                )
            port_file = state_dir / "port"
            if base_url is None and port_file.exists():
                base_url = f"http://{_connect_host(host)}:{port_file.read_text().strip()}"
            ready = len(list(state_dir.glob("worker-*")))
            if base_url is not None and ready >= workers:
                try:
                    response = client.get(base_url + "/_admin/health")
                    if response.status_code == 200:
                        return base_url
                    last_problem = f"health answered {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last_problem = f"health check failed: {exc}"
            elif base_url is not None:
                last_problem = f"{ready} of {workers} workers ready"
            time.sleep(0.05)
    raise ProvisionError(
        f"The reference service did not become ready within {timeout:.0f} s ({last_problem}); "
        f"{_log_tail(log) or 'no output'}"
    )


@contextlib.contextmanager
def running_service(
    variant: str,
    workers: int,
    database_url: str,
    stripe_url: str,
    failpoints: bool = False,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    stripe_api_key: str = TEST_API_KEY,
    lease_seconds: float | None = None,
    key_lifetime_seconds: float | None = None,
    reconcile_interval_seconds: float = 0.0,
    stripe_timeout_seconds: float | None = None,
    log_to: IO[str] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[str]:
    """Start the named variant under uvicorn with `workers` processes and yield its base URL.

    Configuration reaches every worker through PAYRACE_SERVICE_* variables. The
    service runs in its own process group, which is terminated as a whole on exit.
    Its output goes to `log_to` when given, else to a log file whose last lines
    explain a failed start.
    """
    if variant not in VARIANTS:
        raise UsageError(unknown_variant_message(variant))
    if workers < 1:
        raise UsageError(f"Expected at least one worker, got workers={workers}")
    check_provider_url(stripe_url, stripe_api_key)
    overrides: dict[str, Any] = {
        "lease_seconds": lease_seconds,
        "key_lifetime_seconds": key_lifetime_seconds,
        "stripe_timeout_seconds": stripe_timeout_seconds,
    }
    config = ServiceConfig(
        database_url=database_url,
        stripe_url=stripe_url,
        stripe_api_key=stripe_api_key,
        failpoints=failpoints,
        reconcile_interval_seconds=reconcile_interval_seconds,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    env = {**os.environ, **config.to_env(), ENV_VARIANT: variant, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="payrace-service-") as tmp:
        state_dir = Path(tmp)
        log_path = None if log_to is not None else state_dir / "service.log"
        with contextlib.ExitStack() as stack:
            output: IO[Any] = (
                log_to
                if log_to is not None
                else stack.enter_context(
                    open(state_dir / "service.log", "w")
                )
            )
            command = [
                sys.executable, "-m", "reference_impl.launcher",
                "--host", host, "--port", str(port), "--workers", str(workers),
                "--state-dir", str(state_dir), "--exit-with-stdin",
            ]  # fmt: skip
            process = subprocess.Popen(
                command,
                env=env,
                # Our end of this pipe closing (even when we are SIGKILLed) stops the service.
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                yield _wait_ready(process, state_dir, host, workers, log_path, startup_timeout)
            finally:
                stop_process_group(process)
