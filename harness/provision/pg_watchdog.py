"""Delete a temp dir payrace made once payrace is gone: an embedded PostgreSQL's (stopped first),
a service's state dir (once the service's process group has ended)."""

# `pg_ctl start` puts the postmaster in its own session, so it outlives a SIGKILLed parent,
# and atexit never runs. The parent therefore starts this watchdog with a pipe on its stdin
# whose write end only the parent holds (the pattern of the stand-in and the service): EOF
# means the parent exited or died. After a normal exit the parent has already stopped the
# server and removed the directory, so the watchdog finds nothing to do.

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.provision.pg_control import PgControl

STOP_TIMEOUT_S = 10


def start_watchdog(root: Path, pg_ctl: Path | None, *,
                   wait_pgid: int | None = None) -> subprocess.Popen[bytes]:
    """Start the watchdog of `root`: with `pg_ctl`, of the server whose data lives in
    `root`/data; with `wait_pgid`, of a directory that process group uses. Stop it with
    `release`."""
    # The package root goes on PYTHONPATH so a checkout that is not pip-installed still works.
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=package_root + (os.pathsep + path if path else ""))
    argv = [sys.executable, "-m", "harness.provision.pg_watchdog", "--root", str(root)]
    if pg_ctl is not None:
        argv += ["--pg-ctl", str(pg_ctl)]
    if wait_pgid is not None:
        argv += ["--wait-pgid", str(wait_pgid)]
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        # Its own session: a Ctrl-C or `timeout` aimed at our process group must not take the
        # watchdog down while we (and the server) live on.
        start_new_session=True,
    )  # fmt: skip


def release(watchdog: subprocess.Popen[bytes]) -> None:
    """Close the watchdog's pipe (its cue) after our own cleanup, and wait for it to finish."""
    if watchdog.stdin is not None:
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
    try:
        watchdog.wait(STOP_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


def stop_server(root: Path, pg_ctl: Path) -> None:
    """Stop the server in `root`/data if one runs (immediately), then delete `root`."""
    pgdata = root / "data"
    if (pgdata / "postmaster.pid").exists():
        # If this fails, deleting the directory below still ends the postmaster: it exits
        # within a minute of finding its postmaster.pid gone.
        with contextlib.suppress(OSError):
            PgControl(pg_ctl, pgdata).stop_now(STOP_TIMEOUT_S)
    shutil.rmtree(root, ignore_errors=True)


def wait_for_group(pgid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Wait until no process of group `pgid` is left (at most `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    """Block until stdin reaches EOF, then stop the server or outwait the process group, and
    remove the directory."""
    parser = argparse.ArgumentParser(prog="python -m harness.provision.pg_watchdog")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--pg-ctl", type=Path, default=None)
    parser.add_argument("--wait-pgid", type=int, default=None)
    args = parser.parse_args(argv)
    sys.stdin.buffer.read()
    if args.wait_pgid is not None:
        # The service stops on its own when our parent's pipe to it closes; let it finish.
        wait_for_group(args.wait_pgid)
    if args.pg_ctl is not None:
        stop_server(args.root, args.pg_ctl)
    else:
        shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
