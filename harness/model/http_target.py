"""Any HTTP service honouring DESIGN §4, driven by one HTTP client per simulated worker."""

from __future__ import annotations

from typing import Any

import httpx

from harness.clients import Client
from harness.clients.http import DEFAULT_TIMEOUT_S, HttpClient
from harness.errors import ProvisionError
from harness.model.targets import TargetSpec, database_problem


def probe_http_target(url: str, timeout_s: float = 3.0) -> None:
    """Raise ProvisionError unless something answers HTTP at `url` (any status will do)."""
    try:
        httpx.get(f"{url}/payments/pay_payrace_probe", timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ProvisionError(
            f"The target at {url} did not answer ({type(exc).__name__}: {exc}); start your "
            "service (pointed at the stand-in) and pass its base URL to --target"
        ) from None


class HttpTarget:
    """A foreign service: payrace sees only its HTTP contract and, if given, its database."""

    can_failpoints = False
    can_move_clock = False

    def __init__(
        self,
        spec: TargetSpec,
        workers: int,
        *,
        database_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.spec = spec
        self.workers = workers
        self.database_url = database_url
        self.can_drop_connections = database_url is not None
        self._clients = [
            HttpClient(spec.value, None, name=f"w{i}", timeout_s=timeout_s) for i in range(workers)
        ]
        self._admin = httpx.Client(base_url=spec.value, timeout=timeout_s)

    def clients(self) -> list[Client]:
        return list(self._clients)

    def reset(self) -> None:
        """A foreign service's data stays; every example creates new payments instead."""

    def snapshot(self) -> list[dict[str, Any]] | None:
        """`GET /_admin/snapshot` where the service offers it (the reference app does)."""
        try:
            response = self._admin.get("/_admin/snapshot")
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("payments"), list):
            data = data["payments"]
        if not isinstance(data, list):
            return None
        return [row for row in data if isinstance(row, dict)]

    def arm_failpoint(self, name: str, action: str, ms: int) -> None:
        raise NotImplementedError("failpoints exist only in reference targets")

    def clear_failpoints(self) -> None:
        """Nothing to clear: failpoints are never armed in a foreign service."""

    def blocked_requests(self) -> int:
        """A foreign service's locks are invisible: the gate's quiet period covers them."""
        return 0

    def drop_connections(self) -> int:
        if self.database_url is None:
            return 0
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.pool import NullPool

        from harness.model.reference_target import terminate_others

        engine = create_engine(self.database_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return terminate_others(conn)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc
        finally:
            engine.dispose()

    def move_clock(self, seconds: float) -> None:
        raise NotImplementedError("payrace cannot move a foreign service's clock")

    def part(self) -> dict[str, Any]:
        return {"tier": "http", "url": self.spec.value, "workers": self.workers}

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._admin.close()
