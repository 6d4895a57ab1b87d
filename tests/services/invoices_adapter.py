"""How payrace speaks the invoices API of tests/services/invoices_stdlib.py (written from
docs/TARGETS.md alone): the client chooses the id, the key goes in the body."""

from __future__ import annotations

import uuid
from typing import Any

from harness.adapters import Answer, Request, fail, info, ok
from harness.history import Classified

STATES = {"open": "pending", "capturing": "processing", "captured": "completed",
          "rejected": "failed"}


class InvoicesApi:
    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        body = {"total_cents": amount, "currency": currency, "payer": customer}
        return Request("PUT", f"/v2/invoices/inv_{uuid.uuid4().hex[:16]}", json=body,
                       name="PUT /v2/invoices/[id]")

    def created(self, answer: Answer) -> Classified:
        if answer.status == 204 and answer.request is not None:
            # Nothing comes back: the id is the one this client put.
            return ok({"id": answer.request.path.rsplit("/", 1)[1]})
        return fail(f"HTTP {answer.status}") if 400 <= answer.status < 500 else info("?")

    def charge(self, payment_id: str, key: str | None) -> Request:
        return Request("POST", f"/v2/invoices/{payment_id}/capture", json={"request_id": key})

    def charged(self, answer: Answer) -> Classified:
        body: dict[str, Any] = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200 and body.get("result") == "captured":
            return ok({"charge_id": body["charge"]["id"]})
        if answer.status in (422, 423, 404):
            return fail(str(body.get("result")))
        return info(f"HTTP {answer.status} {body.get('result')}")

    def read(self, payment_id: str) -> Request:
        return Request("GET", f"/v2/invoices/{payment_id}")

    def payment(self, answer: Answer) -> Classified:
        invoice = (answer.body or {}).get("invoice") if answer.status == 200 else None
        if invoice is None:
            return fail("unknown invoice") if answer.status == 404 else info("?")
        return ok({"id": invoice["id"], "status": STATES[invoice["state"]],
                   "charge_id": invoice["charge"], "amount": invoice["total_cents"],
                   "currency": invoice["currency"]})
