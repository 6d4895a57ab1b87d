"""Run a stand-in as a real child process on a free loopback port, and never leave it behind."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.errors import ProvisionError

_ANNOUNCE = re.compile(r"listening on (?P<url>http://\S+)")
STARTUP_TIMEOUT_S = 20.0


def standin_command(
    *, host: str = "127.0.0.1", port: int = 0, seed: int = 0, ledger: str | Path | None = None,
    upstream: str | None = None, webhooks: tuple[str, ...] = (), search_lag_ms: int = 0,
    journal: str | Path | None = None,
) -> list[str]:
    """The argv that starts a stand-in which exits when its stdin closes."""
    argv = [sys.executable, "-m", "harness.stripe_standin", "--host", host, "--port", str(port),
            "--seed", str(seed), "--exit-with-stdin"]
    if ledger is not None:
        argv += ["--ledger", str(ledger)]
    if journal is not None:
        argv += ["--ledger-journal", str(journal)]
    if upstream is not None:
        argv += ["--upstream", upstream]
    for url in webhooks:
        argv += ["--webhook", url]
    if search_lag_ms:
        argv += ["--search-lag-ms", str(search_lag_ms)]
    return argv


def _read_announce(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The URL from the child's first stdout line, or None if it died or was too slow."""
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = _ANNOUNCE.search(line)
        if match:
            found.append(match["url"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def _stop(proc: subprocess.Popen[str]) -> None:
    """Close stdin (the child's cue), then SIGTERM, then SIGKILL: whatever it takes, it ends."""
    for step in ("stdin", "terminate", "kill"):
        if proc.poll() is not None:
            break
        if step == "stdin" and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        elif step == "terminate":
            proc.terminate()
        elif step == "kill":
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def running_standin(
    seed: int = 0, *, ledger: str | Path | None = None, upstream: str | None = None,
    host: str = "127.0.0.1", startup_timeout: float = STARTUP_TIMEOUT_S,
    webhooks: tuple[str, ...] = (), search_lag_ms: int = 0, journal: str | Path | None = None,
) -> Iterator[str]:
    """Start a stand-in in its own process on a free port of `host`; yield its base URL.

    The child exits when this process lets go of its stdin, so even a parent killed mid-test
    leaves no orphan behind. Raises ProvisionError (exit 3) if it does not come up.
    """
    # The package root goes on PYTHONPATH so a checkout that is not pip-installed still works;
    # the child keeps our working directory, so relative ledger paths mean the same thing.
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=root + (os.pathsep + path if path else ""))
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            standin_command(host=host, seed=seed, ledger=ledger, upstream=upstream,
                            webhooks=webhooks, search_lag_ms=search_lag_ms, journal=journal),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
        )
        try:
            url = _read_announce(proc, startup_timeout)
            if url is None:
                _stop(proc)
                errors.seek(0)
                lines = [ln for ln in errors.read().splitlines() if ln.strip()]
                reason = lines[-1] if lines else f"exit code {proc.returncode}"
                raise ProvisionError(f"The Stripe stand-in did not start: {reason}")
            yield url
        finally:
            _stop(proc)
