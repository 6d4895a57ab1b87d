"""Locust as a headless subprocess: its command line, its environment, starting and stopping it."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from harness.runner.spec import RunSpec

# Seconds a stopping user may spend finishing the operation it is in; what is still running
# after that is killed and recorded as `info` (its outcome is unknown, which is the law).
STOP_TIMEOUT_S = 2
# Variables the runner sets for each run; a value left in the user's shell must never leak in
# (PAYRACE_DATABASE_URL there names a server, not the target's database the nemesis may cut).
RUNNER_OWNED = frozenset({
    "PAYRACE_HISTORY", "PAYRACE_STANDIN_URL", "PAYRACE_FAULTS", "PAYRACE_SEED", "PAYRACE_ORIGIN",
    "PAYRACE_SERVICE_PID", "PAYRACE_DATABASE_URL", "PAYRACE_TARGET_CLOCK", "PAYRACE_ADAPTER",
    "PAYRACE_POSTGRES_CONTROL",
})


def scenario_knobs(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's PAYRACE_* scenario settings (e.g. PAYRACE_HANG_MS), recorded with the run."""
    return {k: v for k, v in environ.items() if k.startswith("PAYRACE_")
            and k not in RUNNER_OWNED and not k.startswith("PAYRACE_SERVICE_")}


def locust_command(spec: RunSpec, host: str, run_dir: Path) -> list[str]:
    """`locust -f <scenario> --headless -u -r -t --host --csv <run_dir>/locust [--processes P]`."""
    command = [
        # Locust itself, under a watcher that ends it when payrace does (even by SIGKILL).
        sys.executable, "-m", "harness.runner.locust_child", "-f", str(spec.scenario_path),
        "--headless",
        "-u", str(spec.users), "-r", f"{spec.spawn_rate:g}",
        "-t", f"{max(1, math.ceil(spec.duration_s))}s", "--host", host,
        "--csv", str(run_dir / "locust"),
        # A 409 or a timeout is evidence, not an error of the load tool: the checkers judge.
        "--exit-code-on-error", "0",
        "--stop-timeout", str(STOP_TIMEOUT_S),
        "--only-summary", "--loglevel", "WARNING",
    ]
    if spec.processes > 1:
        command += ["--processes", str(spec.processes)]
    return command


def locust_env(
    spec: RunSpec, *, history: Path | None, faults: Path, standin_url: str | None,
    origin: float, extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment that tells the scenario where to record and what it may fault."""
    env = {k: v for k, v in os.environ.items() if k not in RUNNER_OWNED}
    env.update({"PAYRACE_SEED": str(spec.seed), "PAYRACE_ORIGIN": repr(origin),
                "PAYRACE_FAULTS": str(faults), "PYTHONUNBUFFERED": "1"})
    if history is not None:
        env["PAYRACE_HISTORY"] = str(history)
    if standin_url is not None:
        env["PAYRACE_STANDIN_URL"] = standin_url
    env.update(extra or {})
    env.update(spec.scenario_env)
    # The checkout root on PYTHONPATH so scenarios import `scenarios.common` even uninstalled.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class LocustProcess:
    """One headless Locust run; its output goes to `<run_dir>/locust.log`."""

    def __init__(self, command: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.command = command
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        # Its own process group, so stopping it reaches the forked --processes workers too;
        # a pipe on stdin whose end (payrace gone) stops that group (harness.runner.locust_child).
        self.proc = subprocess.Popen(command, env=dict(env), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
                                     start_new_session=True)

    def poll(self) -> int | None:
        return self.proc.poll()

    def stop(self, grace_s: float = 10.0) -> int:
        """Ask Locust to stop as Ctrl-C would (it still writes its CSVs), then insist."""
        for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait)
        return self.wait()

    def wait(self, timeout: float | None = None) -> int:
        code = self.proc.wait(timeout=timeout)
        # Forked workers outlive a killed master only by accident; never leave them behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if not self._log.closed:
            self._log.close()
        return code

    def tail(self, lines: int = 5) -> str:
        """The last lines Locust printed, to explain a failure in one message."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(ln.strip() for ln in text.splitlines()[-lines:] if ln.strip())
