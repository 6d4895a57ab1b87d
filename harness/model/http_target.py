"""Any HTTP service honouring the target contract, one HTTP client per simulated worker."""

from __future__ import annotations

from typing import Any

import httpx

from harness.adapters import Adapter, ContractAdapter
from harness.adapters.judge import AdapterRaised, build
from harness.adapters.send import send
from harness.clients import Client
from harness.clients.http import DEFAULT_TIMEOUT_S, HttpClient
from harness.errors import ProvisionError
from harness.model.targets import TargetSpec, database_problem
from harness.targets.abilities import PROBE_TIMEOUT_S, PROBE_TRIES, Abilities
from harness.targets.admin import TargetAdmin
from harness.targets.view import HttpReader, sql_rows


def probe_http_target(url: str, adapter: Adapter, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise ProvisionError unless something answers HTTP at `url` (any status will do).

    A refused connection fails at once (nothing listens: a wrong --target). A timeout is
    asked again: a service that accepted the connection is there, and its first request on
    a busy machine (cold pool, workers starting) may take longer than one probe's timeout.
    """
    tries = PROBE_TRIES
    while True:
        try:
            with httpx.Client(base_url=url, timeout=timeout_s) as client:
                send(client, build(adapter, "read", "pay_payrace_probe"))
            return
        except AdapterRaised as exc:
            raise ProvisionError(f"The target at {url} was not probed: {exc}") from None
        except httpx.TimeoutException as exc:
            tries -= 1
            if tries > 0:
                continue
            error: httpx.HTTPError = exc
        except httpx.HTTPError as exc:
            error = exc
        raise ProvisionError(
            f"The target at {url} did not answer ({type(error).__name__}: {error}); start "
            "your service (pointed at the stand-in) and pass its base URL to --target"
        ) from None


class HttpTarget:
    """A foreign service: payrace sees its HTTP contract and whatever else it offers."""

    def __init__(
        self,
        spec: TargetSpec,
        workers: int,
        abilities: Abilities,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        adapter: Adapter | None = None,
        adapter_label: str | None = None,
    ) -> None:
        self.spec = spec
        self.adapter: Adapter = adapter if adapter is not None else ContractAdapter()
        self.adapter_label = adapter_label
        self.workers = workers
        self.abilities = abilities
        self.database_url = abilities.database_url
        self.can_failpoints = abilities.failpoints
        self.can_drop_connections = abilities.database_url is not None
        self.can_move_clock = abilities.clock
        self.can_reconcile = abilities.reconcile
        self.can_kill_workers = abilities.service_pid is not None
        self._clients = [
            HttpClient(spec.value, None, name=f"w{i}", timeout_s=timeout_s, adapter=self.adapter)
            for i in range(workers)
        ]
        self._admin = TargetAdmin(spec.value)
        self._reader = HttpReader(spec.value, adapter=self.adapter)

    def clients(self) -> list[Client]:
        return list(self._clients)

    def reset(self) -> None:
        """A foreign service's data stays; every example creates new payments instead."""

    def snapshot(self) -> list[dict[str, Any]] | None:
        """The database view the target allows: its snapshot, the user's SQL, else None."""
        if self.abilities.snapshot:
            return self._admin.snapshot()
        if self.abilities.database_url and self.abilities.db_query:
            return sql_rows(self.abilities.database_url, self.abilities.db_query)
        return None

    def read_rows(self, payment_ids: list[str]) -> dict[str, dict[str, Any]]:
        return self._reader(payment_ids)

    def arm_failpoint(self, name: str, action: str, ms: int) -> None:
        self._admin.arm_failpoint(name, action, ms)

    def clear_failpoints(self) -> None:
        if self.can_failpoints:
            self._admin.clear_failpoints()

    def blocked_requests(self) -> int:
        """A foreign service's locks are invisible: the gate's quiet period covers them."""
        return 0

    def drop_connections(self) -> int:
        if self.database_url is None:
            return 0
        from sqlalchemy.exc import SQLAlchemyError

        from harness.nemesis.database import cut

        try:
            return cut(self.database_url)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc

    def kill_workers(self) -> list[int]:
        from harness.targets.workers import kill_workers

        assert self.abilities.service_pid is not None
        return kill_workers(self.abilities.service_pid)

    def move_clock(self, seconds: float) -> None:
        self._admin.move_clock(seconds)

    def part(self) -> dict[str, Any]:
        return {
            "tier": "http",
            "url": self.spec.value,
            "workers": self.workers,
            "adapter": self.adapter_label or "contract",
            "abilities": self.abilities.as_dict(),
        }

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._admin.close()
        self._reader.close()
