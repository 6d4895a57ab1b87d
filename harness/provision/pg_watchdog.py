"""Stop an embedded PostgreSQL and delete its temp dir once the process that started it is gone."""

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
from pathlib import Path

STOP_TIMEOUT_S = 10


def start_watchdog(root: Path, pg_ctl: Path) -> subprocess.Popen[bytes]:
    """Start the watchdog for the server whose data lives in `root`/data; stop it with `release`."""
    # The package root goes on PYTHONPATH so a checkout that is not pip-installed still works.
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=package_root + (os.pathsep + path if path else ""))
    return subprocess.Popen(
        [sys.executable, "-m", "harness.provision.pg_watchdog", "--root", str(root),
         "--pg-ctl", str(pg_ctl)],
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
        # pg_ctl refuses to run as root; as root the wheel runs the server as the data dir's owner.
        user = pgdata.stat().st_uid if os.geteuid() == 0 else None
        # If this fails, deleting the directory below still ends the postmaster: it exits
        # within a minute of finding its postmaster.pid gone.
        subprocess.run(
            [str(pg_ctl), "-D", str(pgdata), "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT_S),
             "stop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=user, check=False,
        )  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Block until stdin reaches EOF, then stop the server and remove its directory."""
    parser = argparse.ArgumentParser(prog="python -m harness.provision.pg_watchdog")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--pg-ctl", type=Path, required=True)
    args = parser.parse_args(argv)
    sys.stdin.buffer.read()
    stop_server(args.root, args.pg_ctl)


if __name__ == "__main__":
    main()
