"""Worker processes that judge groups in parallel and never outlive the process that made them.

Workers are spawned, not forked: each starts as a fresh interpreter that imports the suite's
functions by name, so nothing of the parent's state (its threads, its locks, gigabytes of
routing tables) is copied. A worker exits by itself within a second once its parent is gone,
killed or not; a parent that raises terminates its workers on the way out.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from multiprocessing import reduction, resource_tracker
from multiprocessing.pool import Pool
from typing import Any

# Each worker holds one group's evidence as objects, a few hundred megabytes
# (harness.checkers.scaled.PART_BYTES): this many stay within the memory goal (4 GiB).
MAX_WORKERS = 4
# How often a worker looks for its parent: the time an orphan can outlive it.
WATCH_SECONDS = 0.5


def may_start_processes() -> bool:
    """False in a daemonic process (a multiprocessing worker): it may not have children."""
    return not multiprocessing.current_process().daemon


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the platform tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def importable(function: Callable[..., Any] | None) -> bool:
    """A spawned worker can import it by name: one of payrace's own module-level functions.

    A user's checker may be a closure, a lambda or live in a module only its process
    imported; such a suite is judged in this process.
    """
    while isinstance(function, partial):
        function = function.func
    if function is None:
        return True
    module = getattr(function, "__module__", None) or ""
    qualname = getattr(function, "__qualname__", "") or ""
    return module.startswith("harness.") and "<" not in qualname


# In a worker: the descriptors of the files its parent gave it (judging_pool's `files`).
_inherited: list[int] = []


@contextmanager
def judging_pool(workers: int, files: Sequence[int] = ()) -> Iterator[Pool | None]:
    """`workers` spawned processes (None for fewer than two: judge in this process), each
    holding `files` (this process's open descriptors) as `inherited_files()`: they read the
    spilled evidence themselves instead of receiving it through a pipe."""
    if workers < 2:
        yield None
        return
    with sigint_held():  # the pool's own threads, which replace a dead worker, hold it too
        pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_judging,
            initargs=(os.getpid(), [Inherited(fd) for fd in files]))
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


class Inherited:
    """A descriptor a spawned process inherits: unpickled there as its own number.

    DupFd is taken as each process is spawned (as multiprocessing passes a pipe), not once
    when the arguments are built: a pool spawns several workers from the same arguments.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return (_detached, (reduction.DupFd(self.fd),))


def _detached(dup: Any) -> int:
    return int(dup.detach())


def _start_judging(parent: int, files: list[int]) -> None:
    start_worker(parent)
    _inherited[:] = files


def inherited_files() -> list[int]:
    """In a worker of `judging_pool`: its descriptors of the files the pool was given."""
    return list(_inherited)


@contextmanager
def sigint_held() -> Iterator[None]:
    """Start processes under this: they begin with Ctrl-C blocked, as this thread holds it.

    Ctrl-C reaches the whole process group. A spawned child takes a second or more to import
    what it runs before `start_worker` ignores the signal; interrupted then, it would die
    with a traceback of its own, and a pool left waiting on a dead worker may never end. A
    blocked signal waits; the children ignore it (start_worker), and this process gets a
    Ctrl-C that came meanwhile as soon as the block ends.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    # multiprocessing starts its resource tracker at the first lock a pool makes, and
    # unblocks SIGINT behind it once started: started first, it leaves our block alone.
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def start_worker(parent: int) -> None:
    """In a worker: leave Ctrl-C to `parent`, and exit within WATCH_SECONDS once it is gone.

    Ctrl-C reaches the whole process group: the parent stops its workers on its way out, and
    a worker interrupted too would only add its traceback. It was started with the signal
    blocked (sigint_held): ignored from here, a Ctrl-C waiting since is dropped.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True,
                     name="payrace-watch-parent").start()


def _exit_when_orphaned(parent: int) -> None:
    # A killed parent runs no cleanup; its orphans are adopted by another process, and
    # getppid() says so. os._exit: an orphan has no one to report to.
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


__all__ = ["MAX_WORKERS", "WATCH_SECONDS", "Inherited", "importable", "inherited_files",
           "judging_pool", "may_start_processes", "sigint_held", "start_worker", "usable_cpus"]
