"""The default adapter: payrace's own contract of docs/TARGETS.md; subclass it to change a part."""

from __future__ import annotations

from collections.abc import Mapping

from harness.adapters.api import Answer, Request
from harness.history import Classified, classify_response


def _body(answer: Answer) -> Mapping[str, object] | None:
    return answer.body if isinstance(answer.body, Mapping) else None


class ContractAdapter:
    """POST /payments, POST /payments/{id}/charge (Idempotency-Key), GET /payments/{id}."""

    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        payload: dict[str, object] = {"amount": amount, "currency": currency}
        if customer is not None:
            payload["customer"] = customer
        return Request("POST", "/payments", json=payload, name="POST /payments")

    def created(self, answer: Answer) -> Classified:
        return classify_response("create", answer.status, _body(answer))

    def charge(self, payment_id: str, key: str | None) -> Request:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return Request(
            "POST", f"/payments/{payment_id}/charge", headers=headers,
            name="POST /payments/[id]/charge",
        )

    def charged(self, answer: Answer) -> Classified:
        return classify_response("charge", answer.status, _body(answer))

    def read(self, payment_id: str) -> Request:
        return Request("GET", f"/payments/{payment_id}", name="GET /payments/[id]")

    def payment(self, answer: Answer) -> Classified:
        return classify_response("read", answer.status, _body(answer))
