"""judge: the law holds over any adapter; the contract adapter classifies as the contract says."""

from __future__ import annotations

from typing import Any

import pytest

from harness.adapters import Answer, ContractAdapter, Request, fail, info, judge, ok
from harness.adapters.judge import AdapterRaised, build
from harness.history import Classified, classify_response


class Loose:
    """An adapter that calls everything it sees `fail`, and slips on purpose."""

    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        return Request("POST", "/o")

    def created(self, answer: Answer) -> Classified:
        return ok({"uuid": "no id here"}) if answer.status == 201 else fail("no")

    def charge(self, payment_id: str, key: str | None) -> Request:
        if payment_id == "boom":
            raise KeyError("boom")
        return "not a request"  # type: ignore[return-value]

    def charged(self, answer: Answer) -> Classified:
        if answer.status == 418:
            raise ValueError("teapot")
        if answer.status == 299:
            return ("ok", None)  # type: ignore[return-value]
        return ok({"charge_id": "ch_1"}) if answer.status == 200 else fail("declined")

    def read(self, payment_id: str) -> Request:
        return Request("GET", f"/o/{payment_id}")

    def payment(self, answer: Answer) -> Classified:
        return ok({"status": "completed"}) if answer.status == 200 else info("?")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_never_fail_whatever_the_adapter_says(status: int) -> None:
    outcome = judge(Loose(), "charge", Answer(status, None))
    assert outcome.type == "info"
    assert outcome.error is not None and outcome.error["status"] == status
    assert "never fail" in outcome.error["message"]


def test_a_4xx_fail_stays_fail_with_its_status() -> None:
    outcome = judge(Loose(), "charge", Answer(400, {"error": "card_declined"}))
    assert outcome == ("fail", None, {"kind": "rejected", "status": 400, "message": "declined"})


def test_an_adapter_that_raises_reading_an_answer_is_info_with_the_exception() -> None:
    outcome = judge(Loose(), "charge", Answer(418, None))
    assert outcome.type == "info"
    assert outcome.error is not None
    assert outcome.error["kind"] == "adapter"
    assert "Loose.charged() raised ValueError: teapot" in outcome.error["message"]


def test_an_adapter_that_returns_something_else_is_info() -> None:
    outcome = judge(Loose(), "charge", Answer(299, None))
    assert outcome.type == "info"
    assert outcome.error is not None and "expected ok(...)" in outcome.error["message"]


def test_building_a_request_that_raises_or_is_not_a_request_is_adapter_raised() -> None:
    with pytest.raises(AdapterRaised, match=r"Loose\.charge\(\) raised KeyError"):
        build(Loose(), "charge", "boom", None)
    with pytest.raises(AdapterRaised, match="returned str"):
        build(Loose(), "charge", "p1", None)
    try:
        build(Loose(), "charge", "boom", None)
    except AdapterRaised as exc:
        outcome = judge(Loose(), "charge", exc=exc)
    assert outcome.type == "info" and outcome.error is not None
    assert outcome.error["kind"] == "adapter"


def test_a_transport_error_is_info_without_asking_the_adapter() -> None:
    outcome = judge(Loose(), "charge", exc=TimeoutError("read timed out"))
    assert outcome.type == "info"
    assert outcome.error is not None and outcome.error["kind"] == "timeout"


def test_create_ok_without_an_id_is_info() -> None:
    outcome = judge(Loose(), "create", Answer(201, {"uuid": "u1"}))
    assert outcome.type == "info"
    assert outcome.error is not None and "without the new payment's id" in outcome.error["message"]


def test_charge_and_read_ok_are_filled_with_the_payment_id_and_status() -> None:
    charged = judge(Loose(), "charge", Answer(200, {}), payment_id="p1")
    assert charged == ("ok", {"charge_id": "ch_1", "id": "p1", "status": "completed"}, None)
    read = judge(Loose(), "read", Answer(200, {}), payment_id="p1")
    assert read == ("ok", {"status": "completed", "id": "p1"}, None)


CASES: list[tuple[str, int, Any]] = [
    ("create", 201, {"id": "pay_1", "status": "pending"}),
    ("create", 422, {"error": {"code": "invalid"}}),
    ("create", 503, None),
    ("charge", 200, {"id": "pay_1", "status": "completed", "charge_id": "ch_1"}),
    ("charge", 200, {"id": "pay_1", "status": "processing"}),
    ("charge", 202, {"status": "processing"}),
    ("charge", 402, {"error": {"code": "card_declined"}}),
    ("charge", 409, None),
    ("charge", 502, {"error": {"code": "provider_error", "correlation_id": "c1"}}),
    ("charge", 404, None),
    ("read", 200, {"id": "pay_1", "status": "completed", "charge_id": "ch_1"}),
    ("read", 404, None),
]


@pytest.mark.parametrize(("f", "status", "body"), CASES)
def test_the_contract_adapter_classifies_as_the_contract(f: str, status: int, body: Any) -> None:
    expected = classify_response(f, status, body)
    got = judge(ContractAdapter(), f, Answer(status, body), payment_id="pay_1")
    assert got.type == expected.type
    assert got.error == expected.error


def test_the_contract_adapter_builds_the_contract_requests() -> None:
    adapter = ContractAdapter()
    assert adapter.create(100, "usd", None) == Request(
        "POST", "/payments", json={"amount": 100, "currency": "usd"}, name="POST /payments"
    )
    charge = adapter.charge("pay_1", "k1")
    assert (charge.method, charge.path, dict(charge.headers)) == (
        "POST", "/payments/pay_1/charge", {"Idempotency-Key": "k1"}
    )
    assert dict(adapter.charge("pay_1", None).headers) == {}
    assert adapter.read("pay_1").path == "/payments/pay_1"
