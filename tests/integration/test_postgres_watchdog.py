"""A payrace process SIGKILLed while holding an embedded PostgreSQL leaves no server or temp dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 15.0

# Provisions through the public context manager, reports the postmaster pid and data
# directory, then waits to be killed.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    from harness.provision.postgres import provision_postgres

    with provision_postgres("embedded") as server:
        engine = create_engine(server.url, poolclass=NullPool)
        with engine.connect() as conn:
            pgdata = conn.exec_driver_sql("SHOW data_directory").scalar_one()
        engine.dispose()
        pid = open(pgdata + "/postmaster.pid").readline().strip()
        print(pid, pgdata, flush=True)
        time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _watchdogs_for(root: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "harness.provision.pg_watchdog" in cmdline and str(root) in cmdline:
            found.append(proc.pid)
    return found


def test_sigkilled_owner_leaves_no_postmaster_and_no_data_dir() -> None:
    """SIGKILL skips atexit; the watchdog still stops the postmaster and deletes its temp dir."""
    env = {k: v for k, v in os.environ.items() if k != "PAYRACE_DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    postmaster = 0
    pgdata = Path()
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the child did not provision PostgreSQL (exit code {child.poll()})"
        pid_text, data_text = line.split(maxsplit=1)
        postmaster, pgdata = int(pid_text), Path(data_text.strip())
        assert _alive(postmaster) and pgdata.is_dir()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    deadline = time.monotonic() + GONE_WITHIN_S
    # The watchdog removes the directory and then exits: wait for all three, not the first two.
    while time.monotonic() < deadline and (
        _alive(postmaster) or pgdata.parent.exists() or _watchdogs_for(pgdata.parent)
    ):
        time.sleep(0.1)
    leftover_postmaster = _alive(postmaster)
    if leftover_postmaster:  # do not leave a server or its files behind after a failure
        server = psutil.Process(postmaster)
        for proc in [*server.children(recursive=True), server]:
            proc.kill()
        shutil.rmtree(pgdata.parent, ignore_errors=True)
    assert not leftover_postmaster, f"postmaster {postmaster} still runs after its owner died"
    assert not pgdata.parent.exists(), f"{pgdata.parent} was not removed after its owner died"
    assert _watchdogs_for(pgdata.parent) == [], "the watchdog outlived its work"


def test_a_scratch_dir_is_removed_when_its_owner_is_sigkilled(tmp_path: Path) -> None:
    """The same watchdog guards a plain temp dir (explore's scratch, a service's state dir):
    the owner SIGKILLed, the directory goes, after the process group it names has ended."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "note").write_text("x")
    child = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from harness.provision.pg_watchdog import start_watchdog
        start_watchdog(Path({str(scratch)!r}), None, wait_pgid=os.getpgrp())
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True,
                             start_new_session=True, cwd=ROOT)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        assert scratch.exists()
        os.killpg(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + GONE_WITHIN_S
        while scratch.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not scratch.exists(), "the watchdog left the scratch dir behind"
    finally:
        owner.kill()
