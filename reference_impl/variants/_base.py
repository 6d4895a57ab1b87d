"""What every variant shares: engine, store, failpoints, provider and the read-only methods."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from reference_impl.config import ServiceConfig
from reference_impl.failpoints import Failpoints
from reference_impl.provider import Provider
from reference_impl.responses import Reply, database_failed
from reference_impl.store import PaymentStore, new_engine, public_view

NO_RECONCILER = {"redriven": 0, "completed": 0, "failed": 0}


class VariantBase:
    """One instance = one simulated worker process: its own pool, locks and provider client."""

    name = "base"
    # The webhook events the variant acts on; none: the launcher registers no endpoint for it.
    webhook_events: tuple[str, ...] = ()

    def __init__(self, config: ServiceConfig, *, max_network_retries: int) -> None:
        self.config = config
        self.engine = new_engine(config)
        self.store = PaymentStore(self.engine)
        self.failpoints = Failpoints(
            self.engine, enabled=config.failpoints, crash_mode=config.crash_mode
        )
        self.provider = Provider(config, max_network_retries=max_network_retries)

    def create_payment(self, amount: int, currency: str, customer: str | None) -> dict[str, Any]:
        return public_view(self.store.create(amount, currency, customer))

    def charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        """Run the variant's charge flow; a database error at any step answers 500."""
        try:
            return self._charge(payment_id, idempotency_key)
        except SQLAlchemyError as exc:
            return database_failed(exc)

    def _charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        raise NotImplementedError(f"variant {self.name!r} has no charge flow")

    def get_payment(self, payment_id: str) -> dict[str, Any] | None:
        row = self.store.get(payment_id)
        return None if row is None else public_view(row)

    def reconcile(self, force: bool = False) -> dict[str, int]:
        """Variants without a reconciler have nothing to re-drive."""
        return dict(NO_RECONCILER)

    def on_event(self, event: dict[str, Any]) -> Reply:
        """A webhook event of one of `webhook_events`; variants without any never get one."""
        return 200, {"received": True, "ignored": True}

    def close(self) -> None:
        self.store.close()
