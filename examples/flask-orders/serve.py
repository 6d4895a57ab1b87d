"""Serve flask-orders under gunicorn: schema, bind, LISTENING line, worker reconcilers, exit."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

# app is this directory's app.py: python puts the script's own directory first on sys.path.
import app as orders
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from gunicorn.workers.base import Worker  # type: ignore[import-untyped]

# Workers say "booted" on this pipe (created in the master before any fork, so every worker
# inherits its write end); the master announces itself once all of them did.
READY_READ, READY_WRITE = os.pipe()


def when_ready(server: Arbiter) -> None:
    """gunicorn hook, in the master once its socket listens and before any worker is forked."""
    port = server.LISTENERS[0].getsockname()[1]
    threading.Thread(target=announce, args=(port, server.cfg.workers), daemon=True).start()
    if os.environ.get("EXIT_WITH_STDIN") == "1":
        threading.Thread(target=exit_at_eof, args=(os.getpid(),), daemon=True).start()


def announce(port: int, workers: int) -> None:
    """Print the first stdout line once every worker serves, then keep draining the pipe.

    The line names the master: the process whose children are the workers, which payrace's
    worker-kill fault SIGKILLs (`--service-pid`). These master threads use only os.read and
    os.write, which hold no Python-level lock: gunicorn forks workers while they run, and a
    forked child must not inherit a lock held by a thread it does not have.
    """
    booted = 0
    while booted < workers:
        booted += len(os.read(READY_READ, 64))
    os.write(1, f"LISTENING http://127.0.0.1:{port} PID {os.getpid()}\n".encode())
    while os.read(READY_READ, 64):  # replacement workers report too; nobody waits for them
        pass


def exit_at_eof(master: int) -> None:
    """Whoever started us holds our stdin: its end (even a SIGKILLed parent's) stops us."""
    while os.read(0, 65536):
        pass
    os.kill(master, signal.SIGQUIT)  # gunicorn's quick shutdown: the workers go too


def post_worker_init(worker: Worker) -> None:
    """gunicorn hook, in each worker once the app is loaded: start its reconciler, say ready.

    The reconciler runs in every worker, not in the master: gunicorn forks replacement workers
    from the master at any time, and a busy thread there (database driver, HTTP pool) could
    hold a lock across that fork. FOR UPDATE SKIP LOCKED and the lease keep reconcilers apart,
    and a killed worker's replacement brings its own.
    """
    orders.start_reconciler()
    os.write(READY_WRITE, b".")


class OrdersServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn, configured in code rather than by a gunicorn.conf.py."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable exists from gunicorn 27 on
                self.cfg.set(key, value)

    def load(self) -> Any:
        return orders.app


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))  # 0: the kernel picks a free port
    orders.wait_for_database()  # creates the orders table if it is missing
    OrdersServer({
        "bind": [f"127.0.0.1:{port}"],
        "workers": max(1, int(os.environ.get("WORKERS", "2"))),
        # Threads, so a request waiting on a slow provider does not stall the whole worker.
        "worker_class": "gthread",
        "threads": max(1, int(os.environ.get("THREADS", "4"))),
        "graceful_timeout": 3,  # SIGTERM: in-flight requests get 3 s, then the workers go
        "when_ready": when_ready,
        "post_worker_init": post_worker_init,
        "control_socket_disable": True,  # no gunicorn.ctl file, no extra thread in the master
        "accesslog": None,
        "errorlog": "-",  # stderr: stdout carries only the LISTENING line
        "proc_name": "flask-orders",
    }).run()


if __name__ == "__main__":
    main()
