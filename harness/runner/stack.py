"""The real parts a run needs (PostgreSQL, the Stripe stand-in, the target): started or reached."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from harness.adapters import Adapter, ContractAdapter, load_adapter
from harness.errors import ProvisionError
from harness.nemesis import Nemesis, NemesisContext
from harness.provision.pg_control import PgControl
from harness.provision.postgres import Provisioned
from harness.runner.spec import RunSpec, scenario_families
from harness.stripe_standin import StandinAdmin, running_standin
from harness.targets.abilities import Abilities, probe_abilities
from harness.targets.preflight import preflight
from harness.targets.standin import ledger_end, verify_standin

__all__ = ["Stack", "is_up", "ledger_end", "listening_pid", "provisioned"]

@dataclass
class Stack:
    """Where each part of one run lives, what the target offers, and what the summary says."""

    target_url: str
    stripe_url: str
    admin: StandinAdmin
    ledger_cursor: int
    parts: dict[str, Any] = field(default_factory=dict)
    service_pid: int | None = None
    database_url: str | None = None
    abilities: Abilities = field(default_factory=Abilities)
    # How payrace's own reads speak the target's API (the contract unless --adapter).
    adapter: Adapter = field(default_factory=ContractAdapter)
    # The PostgreSQL server payrace started for the target: the nemesis may restart it.
    postgres: PgControl | None = None

    @property
    def reference(self) -> bool:
        """The target offers payrace's admin endpoints (reconcile and snapshot)."""
        return self.abilities.reconcile and self.abilities.snapshot

    def nemesis(self, families: Sequence[str]) -> Nemesis:
        """A nemesis of these fault families on this run's parts (only those it may reach)."""
        a = self.abilities
        ctx = NemesisContext(
            standin_url=self.stripe_url,
            target_url=self.target_url, service_pid=self.service_pid or 0,
            database_url=self.database_url, target_clock=a.clock, failpoints=a.failpoints,
            postgres=self.postgres)
        return Nemesis(families, ctx)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


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
def _stand_in(spec: RunSpec, parts: dict[str, Any], journal: Path | None) -> Iterator[str]:
    if spec.stripe_url:
        health = verify_standin(spec.stripe_url)
        parts["stripe"] = {"tier": "standin", "url": spec.stripe_url, "started_by": "user",
                           "version": health.get("version")}
        yield spec.stripe_url.rstrip("/")
        return
    # Its ledger goes to the run directory line by line: killed, it is still there.
    with running_standin(seed=spec.seed, journal=journal) as url:
        parts["stripe"] = {"tier": "standin", "url": url, "started_by": "payrace",
                           "version": _version("payrace")}
        yield url


@contextlib.contextmanager
def provisioned(spec: RunSpec, server: Provisioned | None = None, *,
                journal: Path | None = None) -> Iterator[Stack]:
    """Start (or reach) every part of the run; everything started here stops on exit.

    `server`: a PostgreSQL server already running (the demo shares one across its runs).
    `journal`: where a stand-in payrace starts appends its ledger as it goes.
    """
    parts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        stripe_url = stack.enter_context(_stand_in(spec, parts, journal))
        admin = stack.enter_context(StandinAdmin(stripe_url, timeout_s=30.0))
        if spec.target.kind == "reference":
            from harness.provision.postgres import fresh_database, provision_postgres
            from harness.provision.service import running_service
            from harness.targets.registry import REFERENCE, get_provider

            if server is None:
                server = stack.enter_context(provision_postgres(url=spec.database_url))
            parts["postgres"] = server.as_part()
            schema = get_provider(REFERENCE).schema()
            database_url = stack.enter_context(fresh_database(server.url, "payrace_run", schema))
            # Only for a scenario whose nemesis arms them: a failpoint check costs every request.
            failpoints = "failpoints" in scenario_families(spec.scenario_path)
            target_url = stack.enter_context(running_service(
                str(spec.target.variant), spec.workers, database_url, stripe_url,
                failpoints=failpoints))
            parts["target"] = {"tier": "reference", "variant": spec.target.variant,
                               "workers": spec.workers, "failpoints": failpoints,
                               "url": target_url}
            cursor = ledger_end(admin) if spec.stripe_url else 0
            pid = listening_pid(target_url)
            abilities = replace(Abilities.reference(database_url, failpoints=failpoints),
                                service_pid=pid, webhooks=bool(admin.webhooks()["endpoints"]),
                                postgres_restart=server.control is not None)
            yield Stack(target_url, stripe_url, admin, cursor, parts, service_pid=pid,
                        database_url=database_url, abilities=abilities,
                        postgres=server.control)
            return
        target_url = str(spec.target.url)
        if not is_up(target_url, timeout=3.0):
            raise ProvisionError(f"--target {target_url} does not accept connections; start it "
                                 "first, or use --target reference:<variant>")
        own_db: str | None = None
        if spec.database_url:
            from harness.provision.postgres import normalize_url, server_version

            own_db = normalize_url(spec.database_url)
            parts["postgres"] = {"tier": "url", "version": server_version(own_db),
                                 "owner": "target"}
        else:
            parts["postgres"] = {"tier": "none", "note": "the target's own database, not given"}
        abilities = probe_abilities(target_url, database_url=own_db,
                                    db_query=spec.db_query, service_pid=spec.service_pid)
        admin.clear_faults()
        abilities = replace(abilities, adapter=spec.adapter,
                            webhooks=bool(admin.webhooks()["endpoints"]))
        adapter = load_adapter(spec.adapter)
        parts["preflight"] = preflight(target_url, admin, adapter=adapter)
        # The run's evidence starts after the preflight payment: it is not the run's.
        cursor = ledger_end(admin)
        parts["target"] = {"tier": "http", "url": target_url,
                           "adapter": spec.adapter or "contract",
                           "abilities": abilities.as_dict()}
        yield Stack(target_url, stripe_url, admin, cursor, parts,
                    service_pid=spec.service_pid, database_url=own_db,
                    abilities=abilities, adapter=adapter)
