"""A reference variant driven in-process: one variant instance per simulated worker process."""

from __future__ import annotations

from typing import Any

import stripe
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from harness.clients import Client, InProcessClient, Service
from harness.errors import ProvisionError
from harness.model.targets import TargetSpec, database_problem
from harness.targets.abilities import Abilities
from harness.targets.dbfaults import DatabaseFaults
from reference_impl.config import ServiceConfig
from reference_impl.failpoints import Failpoints
from reference_impl.responses import Reply
from reference_impl.store import PaymentStore, public_view
from reference_impl.variants import Variant, load, webhook_events
from reference_impl.webhook_server import WebhookServer
from reference_impl.webhooks import receive

# In-process workers use a short provider timeout so a `hang_after` costs half a second,
# and a lease long enough never to expire inside one example: only the model's clock
# moves (or teardown's forced reconcile) decide when a stuck payment is re-driven.
STRIPE_TIMEOUT_S = 0.5
LEASE_S = 60.0

class ReferenceTarget:
    """`reference:<variant>` with W in-process workers sharing one database and one stand-in."""

    can_failpoints = True
    can_drop_connections = True
    can_move_clock = True
    can_reconcile = True
    # In-process workers crash through the `crash` failpoint instead.
    can_kill_workers = False

    def __init__(
        self,
        spec: TargetSpec,
        database_url: str,
        stripe_url: str,
        workers: int,
        *,
        failpoints: bool = True,
    ) -> None:
        self.spec = spec
        self.workers = workers
        self.database_url = database_url
        self.abilities = Abilities.reference(database_url, failpoints=failpoints)
        self.config = ServiceConfig(
            database_url=database_url,
            stripe_url=stripe_url,
            failpoints=failpoints,
            lease_seconds=LEASE_S,
            stripe_timeout_seconds=STRIPE_TIMEOUT_S,
            stripe_retry_delay_seconds=0.02,
            pool_size=4,
            max_overflow=8,
            crash_mode="raise",
        )

        def factory() -> Service:
            service: Service = load(spec.value, self.config)
            return service

        self._clients = [InProcessClient(factory, None, name=f"w{i}") for i in range(workers)]
        # The harness's own connection, for resets, snapshots and the nemesis.
        self._engine = create_engine(database_url, pool_size=1, max_overflow=2, pool_pre_ping=True)
        self._db = DatabaseFaults(self._engine, database_url)
        self._failpoints = Failpoints(self._engine, enabled=True)
        # A variant that acts on webhooks gets its route as the served app has it: the
        # stand-in delivers over HTTP to a receiver with its own variant instance.
        self._events = webhook_events(spec.value)
        self._hook_variant: Variant | None = None
        self._hooks: WebhookServer | None = None
        self._endpoint: tuple[str, str] | None = None  # (id, secret) at the stand-in
        if self._events:
            self._hook_variant = load(spec.value, self.config)
            self._hooks = WebhookServer(self._deliver)

    def _deliver(self, payload: bytes, signature: str | None) -> Reply:
        assert self._hook_variant is not None
        secret = self._endpoint[1] if self._endpoint is not None else ""
        return receive(self._hook_variant, payload, signature, secret)

    def _register_webhook(self) -> None:
        """(Re-)register the receiver: a stand-in reset forgets endpoints made through its API,
        and an endpoint left from before would deliver every event twice."""
        if self._hooks is None or self._hook_variant is None:
            return
        provider = self._hook_variant.provider
        try:
            if self._endpoint is not None:
                provider.delete_webhook(self._endpoint[0])
            self._endpoint = provider.register_webhook(self._hooks.url, self._events)
        except stripe.StripeError as exc:
            raise ProvisionError(
                f"The stand-in at {self.config.stripe_url} refused the reference service's "
                f"webhook endpoint ({type(exc).__name__}: {exc})"
            ) from None

    def clients(self) -> list[Client]:
        return list(self._clients)

    def _execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        try:
            with self._engine.begin() as conn:
                return conn.execute(statement, params or {})
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc

    def reset(self) -> None:
        # DELETE, not TRUNCATE: on a handful of rows it is much cheaper, and takes no ACCESS
        # EXCLUSIVE lock that a worker's idle connection could make us wait for.
        try:
            with self._engine.begin() as conn:
                conn.execute(text("DELETE FROM payments"))
                conn.execute(text("DELETE FROM failpoints"))
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc
        self._register_webhook()

    def snapshot(self) -> list[dict[str, Any]] | None:
        try:
            return PaymentStore(self._engine).snapshot()
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc

    def read_rows(self, payment_ids: list[str]) -> dict[str, dict[str, Any]]:
        store = PaymentStore(self._engine)
        rows: dict[str, dict[str, Any]] = {}
        try:
            for pid in payment_ids:
                row = store.get(pid)
                if row is not None:
                    rows[pid] = public_view(row)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc
        return rows

    def arm_failpoint(self, name: str, action: str, ms: int) -> None:
        try:
            self._failpoints.arm(name, action, ms=ms, count=1)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc

    def clear_failpoints(self) -> None:
        self._execute(text("DELETE FROM failpoints"))

    def blocked_requests(self) -> int:
        return self._db.blocked_requests()

    def drop_connections(self) -> int:
        return self._db.drop_connections()

    def kill_workers(self) -> list[int]:
        raise NotImplementedError("in-process workers crash through the crash failpoint")

    def move_clock(self, seconds: float) -> None:
        try:
            PaymentStore(self._engine).shift_clock(seconds)
        except SQLAlchemyError as exc:
            raise database_problem(exc, self.database_url) from exc

    def part(self) -> dict[str, Any]:
        return {
            "tier": "reference",
            "mode": "in-process",
            "variant": self.spec.value,
            "workers": self.workers,
            "webhooks": list(self._events),
        }

    def close(self) -> None:
        if self._hook_variant is not None and self._endpoint is not None:
            # Left registered, it would keep a shared stand-in delivering to a closed port.
            self._hook_variant.provider.delete_webhook(self._endpoint[0])
        if self._hooks is not None:
            self._hooks.close()
        if self._hook_variant is not None:
            self._hook_variant.close()
        for client in self._clients:
            client.close()
        self._engine.dispose()
