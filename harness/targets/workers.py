"""Worker processes of a service given by its supervisor's pid: found, and killed as a crash is."""

from __future__ import annotations

import os
import signal

import psutil

from harness.errors import ProvisionError


def _serves(process: psutil.Process) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN for c in process.net_connections(kind="tcp"))
    except psutil.Error:
        return False


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's children that serve its listening socket (not e.g. a resource tracker)."""
    try:
        children = psutil.Process(supervisor).children()
    except psutil.NoSuchProcess:
        raise ProvisionError(
            f"--service-pid {supervisor}: no such process; give the pid of your service's "
            "supervisor (the parent of its worker processes)"
        ) from None
    except psutil.Error as exc:
        raise ProvisionError(f"--service-pid {supervisor}: cannot inspect it ({exc})") from None
    return sorted(p.pid for p in children if _serves(p))


def kill_workers(supervisor: int, only: int | None = None) -> list[int]:
    """SIGKILL the service's workers (or the `only`-th of them): no cleanup, no rollback."""
    pids = worker_pids(supervisor)
    if only is not None and pids:
        pids = [pids[only % len(pids)]]
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(pid)
    return killed
