"""A provider's variant served over HTTP: its launcher with N worker processes on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from harness.errors import ProvisionError, UsageError
from harness.provision.pg_watchdog import release, start_watchdog
from harness.safety import check_provider_url
from harness.targets.provider import ServeSettings
from harness.targets.registry import REFERENCE, get_provider

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
    what: str = "The service",
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
                    f"{what} exited with code {code} while starting: "
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
        f"{what} did not become ready within {timeout:.0f} s ({last_problem}); "
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
    stripe_api_key: str | None = None,
    lease_seconds: float | None = None,
    key_lifetime_seconds: float | None = None,
    reconcile_interval_seconds: float = 0.0,
    stripe_timeout_seconds: float | None = None,
    log_to: IO[str] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_S,
    provider_name: str = REFERENCE,
) -> Iterator[str]:
    """Start the provider's named variant with `workers` processes and yield its base URL.

    The provider says how (its launcher's argv and environment, docs/TARGETS.md). The
    service runs in its own process group, which is terminated as a whole on exit.
    Its output goes to `log_to` when given, else to a log file whose last lines
    explain a failed start.
    """
    provider = get_provider(provider_name)
    if variant not in provider.variants():
        raise UsageError(provider.unknown_variant_message(variant))
    if workers < 1:
        raise UsageError(f"Expected at least one worker, got workers={workers}")
    api_key = stripe_api_key or provider.test_api_key
    check_provider_url(stripe_url, api_key)
    launcher = provider.serve_command(ServeSettings(
        variant=variant, database_url=database_url, stripe_url=stripe_url,
        stripe_api_key=api_key, failpoints=failpoints,
        reconcile_interval_seconds=reconcile_interval_seconds, lease_seconds=lease_seconds,
        key_lifetime_seconds=key_lifetime_seconds, stripe_timeout_seconds=stripe_timeout_seconds,
    ))  # fmt: skip
    env = {**os.environ, **launcher.env, "PYTHONUNBUFFERED": "1"}
    # Its watchdog may remove the directory first (on release): no error for a directory gone.
    with tempfile.TemporaryDirectory(prefix="payrace-service-", ignore_cleanup_errors=True) as tmp:
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
                *launcher.argv,
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
            # Removes the state dir should payrace be killed before it can (SIGKILL).
            watchdog = start_watchdog(state_dir, None, wait_pgid=process.pid)
            stack.callback(release, watchdog)  # after the directory is gone: nothing left to do
            try:
                yield _wait_ready(process, state_dir, host, workers, log_path, startup_timeout,
                                  f"The {provider.name} service")
            finally:
                stop_process_group(process)
