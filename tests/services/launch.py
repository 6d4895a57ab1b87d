"""Start one of the own services as a subprocess with a fresh database, and stop it completely."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from harness.provision.postgres import _with_database, database_name, normalize_url
from harness.stripe_standin import TEST_API_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
# Services that speak payrace's contract (docs/TARGETS.md), and their modes.
SERVICES: dict[str, tuple[str, ...]] = {
    "orders_threads": ("correct", "ambiguous_failed"),
    "charges_aiohttp": ("correct", "stable_key_forever", "fresh_key_redrive",
                        "search_then_new_key"),
}
# Services with an API of their own, driven through an adapter.
OWN_API_SERVICES: dict[str, tuple[str, ...]] = {
    "invoices_stdlib": ("correct", "flawed"),
}


@dataclass(frozen=True)
class OwnService:
    """A running own service: its base URL, supervisor pid and its own database."""

    name: str
    mode: str
    url: str
    pid: int
    database_url: str  # plain postgresql:// (libpq) URL of the service's own database


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://…` (or any postgres URL) as the plain form libpq and psycopg take."""
    return "postgresql://" + normalize_url(sqlalchemy_url).split("://", 1)[1]


@contextlib.contextmanager
def own_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server (libpq URL), dropped WITH (FORCE) on exit."""
    name = database_name(prefix)
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield libpq_url(_with_database(normalize_url(server_url), name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _first_line(stream: IO[bytes], timeout_s: float) -> str | None:
    """The first line the process prints, or None if none came within the timeout."""
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s).decode(errors="replace").strip()
    except queue.Empty:
        return None


def _exited(pid: int) -> bool:
    """True once the process has exited, leaving it a zombie (so its group id stays ours)."""
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return os.waitid(os.P_PID, pid, flags) is not None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close stdin (the service's signal to exit), then SIGTERM, then SIGKILL; no leftovers."""
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(OSError):
        proc.stdin.close()
    for sig, grace_s in ((None, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace_s
        while not _exited(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _exited(proc.pid):
            break
    # The supervisor is a zombie: its group id cannot be reused, so this reaches only its own
    # workers, should any have outlived it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


@contextlib.contextmanager
def running_own_service(
    name: str,
    server_url: str,
    stripe_url: str,
    *,
    mode: str = "correct",
    workers: int = 2,
    lease_s: float = 1.5,
    env: Mapping[str, str] | None = None,
) -> Iterator[OwnService]:
    """Run `python -m tests.services.<name>` in MODE `mode` on a fresh database of its own."""
    known = {**SERVICES, **OWN_API_SERVICES}
    if mode not in known.get(name, ()):
        raise ValueError(f"unknown service {name!r} / mode {mode!r}; known: {known}")
    command = [sys.executable, "-m", f"tests.services.{name}"]
    settings = {"WORKERS": str(workers), **(env or {})}
    with _running(name, command, server_url, stripe_url, mode, lease_s, settings) as service:
        yield service


NODE_EXAMPLE = REPO_ROOT / "examples" / "node-express"


@contextlib.contextmanager
def running_node_example(
    server_url: str, stripe_url: str, *, mode: str = "correct", lease_s: float = 1.5
) -> Iterator[OwnService]:
    """Run examples/node-express (node, its `npm ci` done by `make test`) on its own database."""
    if not (NODE_EXAMPLE / "node_modules").is_dir():
        raise RuntimeError(
            f"{NODE_EXAMPLE}/node_modules is missing: `make test` runs `npm ci` there first"
        )
    command = ["node", str(NODE_EXAMPLE / "server.js")]
    with _running("node_express", command, server_url, stripe_url, mode, lease_s,
                  {"EXIT_WITH_STDIN": "1"}) as service:
        yield service


GO_EXAMPLE = REPO_ROOT / "examples" / "go-pr145"


@contextlib.contextmanager
def running_go_example(
    server_url: str, stripe_url: str, *, mode: str = "pr145"
) -> Iterator[OwnService]:
    """Run examples/go-pr145's binary (`make test` builds it) on a database of its own."""
    binary = GO_EXAMPLE / "pr145"
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: `make test` builds it with Debian's Go first")
    with _running("go_pr145", [str(binary)], server_url, stripe_url, mode, 0.0,
                  {"EXIT_WITH_STDIN": "1"}) as service:
        yield service


FLASK_EXAMPLE = REPO_ROOT / "examples" / "flask-orders"
# How payrace speaks its orders API (the adapter docs/TARGETS.md shows).
FLASK_ADAPTER = f"{FLASK_EXAMPLE / 'payrace_adapter.py'}:OrdersApi"
# The stdlib invoices service's API: client-chosen ids answered 204, the key in the body.
INVOICES_ADAPTER = f"{Path(__file__).parent / 'invoices_adapter.py'}:InvoicesApi"
ADAPTERS = {"flask_orders": FLASK_ADAPTER, "invoices_stdlib": INVOICES_ADAPTER}


@contextlib.contextmanager
def running_flask_example(
    server_url: str, stripe_url: str, *, mode: str = "correct", lease_s: float = 1.5
) -> Iterator[OwnService]:
    """Run examples/flask-orders under gunicorn (its own API: drive it with FLASK_ADAPTER)."""
    command = [sys.executable, str(FLASK_EXAMPLE / "serve.py")]
    with _running("flask_orders", command, server_url, stripe_url, mode, lease_s,
                  {"EXIT_WITH_STDIN": "1"}) as service:
        yield service


@contextlib.contextmanager
def _running(
    name: str,
    command: list[str],
    server_url: str,
    stripe_url: str,
    mode: str,
    lease_s: float,
    settings: Mapping[str, str],
) -> Iterator[OwnService]:
    with own_database(server_url, f"own_{name}") as database_url:
        child_env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "STRIPE_URL": stripe_url,
            "STRIPE_KEY": TEST_API_KEY,
            "PORT": "0",
            "MODE": mode,
            "LEASE_S": str(lease_s),
            **settings,
        }
        log = Path(tempfile.mkstemp(prefix=f"payrace-{name}-", suffix=".log")[1])
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=child_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                start_new_session=True,
            )
        try:
            assert proc.stdout is not None
            line = _first_line(proc.stdout, START_TIMEOUT_S) or ""
            words = line.split()
            if len(words) != 4 or words[0] != "LISTENING" or words[2] != "PID":
                raise RuntimeError(
                    f"{name} ({mode}) did not start: first line {line!r}; log {log}:\n"
                    + _log_tail(log)
                )
            yield OwnService(name, mode, words[1], int(words[3]), database_url)
        finally:
            _stop(proc)
            log.unlink(missing_ok=True)
