"""The real parts a run needs (PostgreSQL, the Stripe stand-in, the target): started or reached."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from harness.errors import ProvisionError
from harness.provision.postgres import Provisioned
from harness.runner.spec import RunSpec
from harness.safety import check_provider_url
from harness.stripe_standin import TEST_API_KEY, StandinAdmin, running_standin

# Scenarios whose nemesis arms failpoints inside the service: the reference service then
# starts with failpoints on (off otherwise, since reading the failpoints table costs a query).
FAILPOINT_SCENARIOS = frozenset({"chaos"})


@dataclass
class Stack:
    """Where each part of one run lives, and what the summary says about it."""

    target_url: str
    stripe_url: str
    admin: StandinAdmin
    ledger_cursor: int
    parts: dict[str, Any] = field(default_factory=dict)
    service_pid: int | None = None
    database_url: str | None = None
    reference: bool = False


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def ledger_end(admin: StandinAdmin) -> int:
    """The ledger's current end: a shared stand-in's older entries belong to other runs."""
    cursor = 0
    while True:
        page = admin.ledger(cursor, 5000)
        if not page["entries"]:
            return cursor
        cursor = int(page["next_cursor"])


def _listens_on(process: psutil.Process, port: int) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                   for c in process.net_connections(kind="tcp"))
    except psutil.Error:
        return False


def listening_pid(url: str) -> int | None:
    """The supervising process of whatever listens on the URL's port, if it is on this machine.

    uvicorn's workers share the supervisor's socket, and the system-wide table names only one
    holder of it; the supervisor is the highest ancestor that still holds the socket.
    """
    port = urlsplit(url).port
    if port is None:
        return None
    try:
        holders = [c.pid for c in psutil.net_connections(kind="tcp")
                   if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                   and c.pid]
        if not holders:
            return None
        process = psutil.Process(holders[0])
        while (parent := process.parent()) is not None and _listens_on(parent, port):
            process = parent
        return int(process.pid)
    except psutil.Error:
        return None


def is_up(url: str, timeout: float = 1.0) -> bool:
    """The target still accepts connections (it may be slow; it is not gone)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _stand_in(spec: RunSpec, parts: dict[str, Any]) -> Iterator[str]:
    if spec.stripe_url:
        check_provider_url(spec.stripe_url, TEST_API_KEY)
        with StandinAdmin(spec.stripe_url, timeout_s=5.0) as admin:
            try:
                health = admin.health()
            except Exception as exc:
                raise ProvisionError(
                    f"--stripe-url {spec.stripe_url} is not a payrace stand-in answering "
                    f"/_standin/health ({exc}); start one with `payrace stand-in`"
                ) from None
        parts["stripe"] = {"tier": "standin", "url": spec.stripe_url, "started": False,
                           "version": health.get("version")}
        yield spec.stripe_url
        return
    with running_standin(seed=spec.seed) as url:
        parts["stripe"] = {"tier": "standin", "url": url, "started": True,
                           "version": _version("payrace")}
        yield url


@contextlib.contextmanager
def provisioned(spec: RunSpec, server: Provisioned | None = None) -> Iterator[Stack]:
    """Start (or reach) every part of the run; everything started here stops on exit.

    `server`: a PostgreSQL server already running (the demo shares one across its runs).
    """
    parts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        stripe_url = stack.enter_context(_stand_in(spec, parts))
        admin = stack.enter_context(StandinAdmin(stripe_url, timeout_s=30.0))
        cursor = ledger_end(admin) if spec.stripe_url else 0
        if spec.target.kind == "reference":
            from harness.provision.postgres import fresh_database, provision_postgres
            from harness.provision.service import running_service

            if server is None:
                server = stack.enter_context(provision_postgres(url=spec.database_url))
            parts["postgres"] = server.as_part()
            database_url = stack.enter_context(fresh_database(server.url, "payrace_run"))
            failpoints = spec.scenario in FAILPOINT_SCENARIOS
            target_url = stack.enter_context(running_service(
                str(spec.target.variant), spec.workers, database_url, stripe_url,
                failpoints=failpoints))
            parts["target"] = {"tier": "reference", "variant": spec.target.variant,
                               "workers": spec.workers, "failpoints": failpoints,
                               "url": target_url}
            yield Stack(target_url, stripe_url, admin, cursor, parts,
                        service_pid=listening_pid(target_url), database_url=database_url,
                        reference=True)
            return
        target_url = str(spec.target.url)
        if not is_up(target_url, timeout=3.0):
            raise ProvisionError(f"--target {target_url} does not accept connections; start it "
                                 "first, or use --target reference:<variant>")
        parts["postgres"] = {"tier": "target's own"}
        parts["target"] = {"tier": "http", "url": target_url}
        yield Stack(target_url, stripe_url, admin, cursor, parts,
                    service_pid=None, database_url=None, reference=_has_admin(target_url))


def _has_admin(url: str) -> bool:
    """A foreign target that offers payrace's admin endpoints (snapshot, reconcile)."""
    try:
        return httpx.get(f"{url}/_admin/health", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False
