"""The reference service's HTTP contract (docs/TARGETS.md) and admin endpoints, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.provision.service import running_service
from harness.stripe_standin import StandinAdmin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(postgres_url: str, standin_url: str) -> Iterator[httpx.Client]:
    """One `safe` service for the module, failpoints off, and a client bound to it."""
    with (
        running_service("safe", 1, postgres_url, standin_url) as url,
        httpx.Client(base_url=url, timeout=15) as http,
    ):
        yield http


def test_a_payment_is_created_pending_charged_and_read_back(
    client: httpx.Client, standin_admin: StandinAdmin
) -> None:
    created = client.post("/payments", json={"amount": 2500, "currency": "eur", "customer": "c1"})
    assert created.status_code == 201
    payment = created.json()
    assert payment["id"].startswith("pay_") and len(payment["id"]) == 36
    assert {k: payment[k] for k in ("status", "amount", "currency")} == {
        "status": "pending",
        "amount": 2500,
        "currency": "eur",
    }
    charged = client.post(f"/payments/{payment['id']}/charge", headers={"Idempotency-Key": "k1"})
    assert charged.status_code == 200
    assert charged.json()["status"] == "completed"
    read = client.get(f"/payments/{payment['id']}").json()
    assert read["status"] == "completed" and read["charge_id"] == charged.json()["charge_id"]
    (ledger_charge,) = standin_admin.charges(payment["id"])
    assert (ledger_charge["amount"], ledger_charge["currency"]) == (2500, "eur")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "usd"}, "amount"),
        ({"amount": "100", "currency": "usd"}, "amount"),
        ({"amount": 1.5, "currency": "usd"}, "amount"),
        ({"amount": 0, "currency": "usd"}, "amount"),
        ({"amount": -100, "currency": "usd"}, "amount"),
        ({"amount": 100, "currency": "doubloons"}, "currency"),
    ],
)
def test_a_bad_payment_is_refused_with_422_naming_the_field(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/payments", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"] or "Missing" in error["message"]


def test_a_body_that_is_not_json_is_refused_with_422(client: httpx.Client) -> None:
    response = client.post("/payments", content=b"amount=5")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_payment_is_404_for_read_and_charge(client: httpx.Client, method: str) -> None:
    path = "/payments/pay_nope" if method == "GET" else "/payments/pay_nope/charge"
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "pay_nope" in response.json()["error"]["message"]


def test_failpoints_cannot_be_armed_on_a_service_started_without_them(
    client: httpx.Client,
) -> None:
    response = client.post("/_admin/failpoints", json={"name": "after_charge", "action": "crash"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "failpoints_disabled"
    assert client.get("/_admin/failpoints").json() == {"enabled": False, "armed": []}


def test_a_bad_failpoint_is_refused_with_422_naming_the_field(client: httpx.Client) -> None:
    response = client.post("/_admin/failpoints", json={"name": "after_charge", "action": "melt"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "action"


def test_reconcile_reports_counts_and_refuses_a_non_boolean_force(client: httpx.Client) -> None:
    assert client.post("/_admin/reconcile").json() == {"redriven": 0, "completed": 0, "failed": 0}
    refused = client.post("/_admin/reconcile", json={"force": "yes"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "force"


def test_health_names_the_variant_and_the_worker(client: httpx.Client) -> None:
    health = client.get("/_admin/health").json()
    assert health["ok"] is True and health["variant"] == "safe"
    assert isinstance(health["pid"], int) and health["failpoints"] is False


def test_the_snapshot_lists_every_payment_row_with_its_bookkeeping(client: httpx.Client) -> None:
    payment_id = client.post("/payments", json={"amount": 700}).json()["id"]
    client.post(f"/payments/{payment_id}/charge")
    rows = {row["id"]: row for row in client.get("/_admin/snapshot").json()}
    row = rows[payment_id]
    assert row["status"] == "completed" and row["attempts"] == 1
    assert row["idempotency_key"] == f"payrace-charge-{payment_id}"
    assert row["lease_expires_at"] is None and row["charge_id"].startswith("ch_")
    assert set(row) >= {"version", "created_at", "updated_at", "amount", "currency"}
