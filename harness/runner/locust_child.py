"""Locust as payrace's child: its whole process group ends when payrace's pipe to it closes.

Locust itself would outlive a payrace killed with SIGKILL, loading a target nobody judges
until its `-t` ran out. Started as `python -m harness.runner.locust_child <locust args>` with
a pipe on stdin (in a session of its own), it runs Locust unchanged, and a thread waits for
the pipe's end: payrace closing it, or dying. Then the group (Locust and its `--processes`
workers) gets SIGTERM, which Locust treats as a stop, writing what it has.
"""

from __future__ import annotations

import os
import signal
import sys


def _end_with_parent() -> None:
    while os.read(0, 4096):  # returns b"" at EOF only: payrace closed the pipe or is gone
        pass
    os.killpg(os.getpgrp(), signal.SIGTERM)


def main() -> None:
    from gevent import monkey
    from locust.main import main as locust_main  # importing Locust patches threads for gevent

    # A real OS thread, started after the patching: one started before it breaks the import
    # lock, and a greenlet would also run in every forked --processes worker.
    start_new_thread = monkey.get_original("_thread", "start_new_thread")
    start_new_thread(_end_with_parent, ())
    sys.argv = ["locust", *sys.argv[1:]]
    locust_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
