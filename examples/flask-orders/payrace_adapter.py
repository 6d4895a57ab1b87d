"""How payrace speaks the orders API of examples/flask-orders."""
from typing import Any

from harness.adapters import Answer, Request, fail, info, ok
from harness.history import Classified

STATUS = {"new": "pending", "paying": "processing", "paid": "completed", "declined": "failed"}


def _verdict(answer: Answer, value: dict[str, Any] | None = None) -> Classified:
    """The same law for every call: 2xx with a value is ok, 4xx fail, anything else unknown."""
    if 200 <= answer.status < 300 and value is not None:
        return ok(value)
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    if 400 <= answer.status < 500:
        return fail(str(error or answer.status))
    return info(f"HTTP {answer.status} {error or ''}")


class OrdersApi:
    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        body = {"amount": amount, "currency": currency, "customer": customer}
        return Request("POST", "/api/v1/orders", json=body)

    def created(self, answer: Answer) -> Classified:
        order = (answer.body or {}).get("order") or {}
        return _verdict(answer, {"id": order["uuid"]} if "uuid" in order else None)

    def charge(self, payment_id: str, key: str | None) -> Request:
        headers = {"Idempotency-Key": key} if key else {}
        return Request("POST", f"/api/v1/orders/{payment_id}/pay", headers=headers)

    def charged(self, answer: Answer) -> Classified:
        body = answer.body or {}
        paid = answer.status == 200 and body.get("paid") is True
        return _verdict(answer, {"charge_id": body.get("stripe_charge")} if paid else None)

    def read(self, payment_id: str) -> Request:
        return Request("GET", f"/api/v1/orders/{payment_id}")

    def payment(self, answer: Answer) -> Classified:
        order = (answer.body or {}).get("order") or {}
        row = {"id": order.get("uuid"), "status": STATUS.get(str(order.get("state"))),
               "charge_id": order.get("stripe_charge"), "amount": order.get("amount"),
               "currency": order.get("currency")}
        return _verdict(answer, row if order else None)
