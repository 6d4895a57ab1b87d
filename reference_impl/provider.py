"""The variants' one door to Stripe: the official SDK, charge parameters, outcome classes."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import stripe

from reference_impl.config import ServiceConfig

# The test payment method each customer pays with: a customer named "decline" pays with
# Stripe's always-declined test card, so declines can be driven through the public API.
DECLINING_CUSTOMER = "decline"
SOURCE_OK = "tok_visa"
SOURCE_DECLINED = "tok_chargeDeclined"
# The card on file that a dunning retry falls back to after the customer's card declined.
SOURCE_BACKUP = "tok_visa"

OutcomeKind = Literal["succeeded", "declined", "unknown"]


@dataclass(frozen=True)
class ChargeOutcome:
    """What a charge attempt told us: money taken, certainly refused, or unknown."""

    kind: OutcomeKind
    charge_id: str | None = None
    provider_code: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    message: str = ""
    # The provider answered from its idempotency store (`Idempotent-Replayed: true`).
    replayed: bool = False

    @property
    def correlation_id(self) -> str:
        """The provider's request id when it answered, else a fresh id to find this in logs."""
        return self.request_id or f"corr_{uuid.uuid4().hex[:16]}"


def source_for(customer: str | None) -> str:
    return SOURCE_DECLINED if customer == DECLINING_CUSTOMER else SOURCE_OK


def charge_params(payment: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """The Charge every variant asks for; `metadata[payment_id]` lets the ledger attribute it."""
    return {
        "amount": int(payment["amount"]),
        "currency": str(payment["currency"]),
        "source": source or source_for(payment.get("customer")),
        "metadata": {"payment_id": str(payment["id"])},
    }


def _replayed(headers: Any) -> bool:
    if not headers:
        return False
    value = headers.get("Idempotent-Replayed") or headers.get("idempotent-replayed") or ""
    return str(value).lower() == "true"


def classify(exc: stripe.StripeError) -> ChargeOutcome:
    """Only a card error is a certain "no"; every other failure leaves the outcome unknown."""
    request_id = exc.request_id
    status = exc.http_status
    replayed = _replayed(exc.headers)
    if isinstance(exc, stripe.CardError):
        decline_code = getattr(exc.error, "decline_code", None) if exc.error else None
        return ChargeOutcome(
            "declined",
            provider_code=decline_code or exc.code or "card_declined",
            http_status=status,
            request_id=request_id,
            message=exc.user_message or "",
            replayed=replayed,
        )
    if isinstance(exc, stripe.APIConnectionError):
        # Timeout or reset: the provider may well have charged the card.
        code = "timeout" if "timed out" in str(exc).lower() else "connection_error"
        return ChargeOutcome("unknown", provider_code=code, request_id=request_id, message=str(exc))
    return ChargeOutcome(
        "unknown",
        provider_code=exc.code or (f"http_{status}" if status else "provider_error"),
        http_status=status,
        request_id=request_id,
        message=exc.user_message or str(exc),
        replayed=replayed,
    )


class _RequestsClient(stripe.RequestsClient):
    """The SDK's requests client, with a configurable pause between its retries."""

    def __init__(self, timeout: float, retry_delay: float) -> None:
        super().__init__(timeout=timeout)
        self._retry_delay = retry_delay

    def _sleep_time_seconds(self, num_retries: int) -> float:
        if self._retry_delay > 0:
            return self._retry_delay
        return super()._sleep_time_seconds(num_retries)


class Provider:
    """A Stripe client bound to the configured URL, key and timeout."""

    def __init__(self, config: ServiceConfig, max_network_retries: int) -> None:
        self.client = stripe.StripeClient(
            config.stripe_api_key,
            base_addresses={"api": config.stripe_url},
            max_network_retries=max_network_retries,
            http_client=_RequestsClient(
                config.stripe_timeout_seconds, config.stripe_retry_delay_seconds
            ),
        )

    def charge(
        self, payment: dict[str, Any], idempotency_key: str | None, source: str | None = None
    ) -> ChargeOutcome:
        """Create a Charge; with no key the SDK still sends a fresh random one per call."""
        options: stripe.RequestOptions = {}
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        params = charge_params(payment, source)
        try:
            charge = self.client.v1.charges.create(params=params, options=options)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            return classify(exc)
        if charge.status == "failed":
            return ChargeOutcome("declined", charge_id=charge.id, provider_code=charge.failure_code)
        return ChargeOutcome("succeeded", charge_id=charge.id)

    def find_charge(self, payment_id: str) -> str | None:
        """The id of a succeeded, unrefunded Charge carrying `metadata[payment_id]`, if any."""
        result = self.client.v1.charges.search(
            params={"query": f"metadata['payment_id']:'{payment_id}'"}
        )
        for charge in result.data:
            if charge.status == "succeeded" and not charge.refunded:
                return str(charge.id)
        return None

    def register_webhook(self, url: str, events: tuple[str, ...]) -> tuple[str, str]:
        """Register `url` for `events` through Stripe's API; its id and signing secret."""
        # The SDK types enabled_events as a Literal of Stripe's catalogue; ours is a plain tuple.
        params: Any = {"url": url, "enabled_events": list(events)}
        endpoint = self.client.v1.webhook_endpoints.create(params=params)
        return str(endpoint.id), str(endpoint.secret)

    def delete_webhook(self, endpoint_id: str) -> None:
        """Forget an endpoint registered before, best effort: one the provider already forgot,
        or a provider that is gone, has nothing left to deliver."""
        with contextlib.suppress(stripe.StripeError):
            self.client.v1.webhook_endpoints.delete(endpoint_id)
