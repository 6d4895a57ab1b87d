"""examples/flask-orders' OrdersApi: its requests, and how judge classifies its answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.adapters import Adapter, Answer, Request, judge, load_adapter
from harness.history import Classified

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask-orders" / "payrace_adapter.py"
UUID = "1248209e-01b7-4ee0-8575-ce627ac18b9b"
PI = "pi_90a7fc657961dd4fe252f25a"


@pytest.fixture(scope="module")
def api() -> Adapter:
    return load_adapter(f"{EXAMPLE}:OrdersApi")


def verdict(api: Adapter, f: str, status: int, body: Any) -> Classified:
    payment_id = None if f == "create" else UUID
    return judge(api, f, Answer(status, body, text=str(body)), payment_id=payment_id)


def order(state: str, charge: str | None = None) -> dict[str, Any]:
    return {"order": {"uuid": UUID, "state": state, "stripe_charge": charge, "amount": 1200,
                      "currency": "usd"}}


# ---- the requests ---------------------------------------------------------------------------


def test_create_posts_the_order_body(api: Adapter) -> None:
    request = api.create(1200, "usd", "decline")
    assert isinstance(request, Request)
    assert (request.method, request.path) == ("POST", "/api/v1/orders")
    assert request.json == {"amount": 1200, "currency": "usd", "customer": "decline"}


def test_charge_posts_pay_with_the_clients_key_only_when_there_is_one(api: Adapter) -> None:
    keyed = api.charge(UUID, "key-1")
    assert (keyed.method, keyed.path) == ("POST", f"/api/v1/orders/{UUID}/pay")
    assert dict(keyed.headers) == {"Idempotency-Key": "key-1"}
    assert dict(api.charge(UUID, None).headers) == {}


def test_read_gets_the_order(api: Adapter) -> None:
    request = api.read(UUID)
    assert (request.method, request.path) == ("GET", f"/api/v1/orders/{UUID}")


# ---- created --------------------------------------------------------------------------------


def test_201_is_ok_with_the_orders_uuid_as_the_payment_id(api: Adapter) -> None:
    body = {"order": {"uuid": UUID, "state": "new", "amount": 1200, "currency": "usd"}}
    kind, value, error = verdict(api, "create", 201, body)
    assert kind == "ok" and error is None
    assert value is not None and value["id"] == UUID


@pytest.mark.parametrize("status", [400, 422])
def test_a_rejected_order_is_fail(api: Adapter, status: int) -> None:
    kind, _, error = verdict(api, "create", status, {"error": "amount must be an integer"})
    assert kind == "fail"
    assert error is not None and "amount must be an integer" in error["message"]


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "internal_error"}), (503, None),
     # Only a 2xx is ok, even when a failing server's body still shows the order.
     (500, {"order": {"uuid": UUID, "state": "new", "amount": 1200, "currency": "usd"}})],
)
def test_a_failed_create_is_unknown(api: Adapter, status: int, body: Any) -> None:
    assert verdict(api, "create", status, body).type == "info"


def test_a_201_without_a_uuid_is_not_ok(api: Adapter) -> None:
    assert verdict(api, "create", 201, {"order": {}}).type == "info"


# ---- charged --------------------------------------------------------------------------------


def test_paid_is_ok_completed_with_the_stripe_charge(api: Adapter) -> None:
    kind, value, error = verdict(api, "charge", 200, {"paid": True, "stripe_charge": PI})
    assert kind == "ok" and error is None
    assert value == {"id": UUID, "status": "completed", "charge_id": PI}


def test_a_200_that_does_not_say_paid_is_unknown(api: Adapter) -> None:
    assert verdict(api, "charge", 200, {"paid": False, "state": "paying"}).type == "info"


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "card_declined"), (409, "already_paid"), (409, "order_in_progress"),
     (404, "not_found")],
)
def test_a_decline_a_conflict_and_an_unknown_order_are_fail(
    api: Adapter, status: int, code: str
) -> None:
    kind, value, error = verdict(api, "charge", status, {"error": code})
    assert kind == "fail" and value is None
    assert error is not None and error["message"] == code and error["status"] == status


@pytest.mark.parametrize(
    ("status", "body"),
    [(202, {"paid": False, "state": "paying"}), (502, {"error": "payment_pending"}),
     (502, {"error": "payment_failed"}), (503, {"error": "database_unavailable"}),
     (500, None), (302, None)],
)
def test_accepted_a_5xx_and_anything_else_are_unknown(
    api: Adapter, status: int, body: Any
) -> None:
    kind, _, error = verdict(api, "charge", status, body)
    assert kind == "info"
    assert error is not None and error["status"] == status


# ---- payment (the read) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "charge", "status"),
    [("new", None, "pending"), ("paying", None, "processing"), ("paid", PI, "completed"),
     ("declined", None, "failed")],
)
def test_an_order_reads_as_payraces_payment_row(
    api: Adapter, state: str, charge: str | None, status: str
) -> None:
    kind, value, error = verdict(api, "read", 200, order(state, charge))
    assert kind == "ok" and error is None
    assert value == {"id": UUID, "status": status, "charge_id": charge, "amount": 1200,
                     "currency": "usd"}


def test_an_unknown_order_reads_as_fail(api: Adapter) -> None:
    assert verdict(api, "read", 404, {"error": "not_found"}).type == "fail"


@pytest.mark.parametrize(
    ("status", "body"), [(500, None), (503, {"error": "down"}), (502, order("paid", PI))]
)
def test_a_failed_read_is_unknown(api: Adapter, status: int, body: Any) -> None:
    assert verdict(api, "read", status, body).type == "info"
