"""Every fault action, driven through the official stripe SDK against a real stand-in."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration


def sdk(url: str, retries: int = 0, timeout: float | None = None) -> stripe.StripeClient:
    http = stripe.RequestsClient(timeout=timeout) if timeout else None
    return stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url},
                               max_network_retries=retries, http_client=http)


def charge_params(payment_id: str, amount: int = 1000) -> Any:
    return {"amount": amount, "currency": "usd", "source": "tok_visa",
            "metadata": {"payment_id": payment_id}}


def test_drop_after_resets_the_connection_but_charges(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """drop_after: the SDK sees a connection error, yet the ledger holds the charge."""
    standin_admin.arm([{"action": "drop_after", "path": "/v1/charges", "payment_id": "pay_1",
                        "count": 1}])
    with pytest.raises(stripe.APIConnectionError, match=r"reset|aborted"):
        sdk(standin).v1.charges.create(params=charge_params("pay_1"))
    [entry] = standin_admin.charges("pay_1")
    assert entry["amount"] == 1000
    [request] = standin_admin.ledger_entries("request")
    assert request["fault"] == "drop_after" and request["status"] == 200


def test_sdk_retries_after_drop_after_never_charge_twice(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """The SDK retries with its own key; the stand-in replays the stored success."""
    standin_admin.arm([{"action": "drop_after", "payment_id": "pay_2", "count": 1}])
    charge = sdk(standin, retries=2).v1.charges.create(params=charge_params("pay_2"))
    assert charge.last_response.headers.get("Idempotent-Replayed") == "true"
    [entry] = standin_admin.charges("pay_2")
    assert entry["id"] == charge.id


def test_application_retry_without_a_key_after_drop_after_charges_twice(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """The bug payrace exists to find: a second call without the first's key charges again."""
    standin_admin.arm([{"action": "drop_after", "payment_id": "pay_3", "count": 1}])
    client = sdk(standin)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.charges.create(params=charge_params("pay_3"))
    client.v1.charges.create(params=charge_params("pay_3"))  # the application's own "retry"
    charges = standin_admin.charges("pay_3")
    assert len(charges) == 2
    assert charges[0]["idempotency_key"] != charges[1]["idempotency_key"]


def test_sdk_retries_under_error_before_500_charge_once(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """error_before executes nothing and stores nothing: the SDK's retry charges exactly once."""
    standin_admin.arm([{"action": "error_before", "status": 500, "payment_id": "pay_4",
                        "count": 1}])
    charge = sdk(standin, retries=2).v1.charges.create(params=charge_params("pay_4"))
    assert charge.last_response.headers.get("Idempotent-Replayed") is None
    assert len(standin_admin.charges("pay_4")) == 1
    requests = standin_admin.ledger_entries("request")
    assert [r["status"] for r in requests] == [500, 200]
    # The refused request is recorded under the key it carried, the same key the retry used.
    assert requests[0]["idempotency_key"] is not None
    assert requests[0]["idempotency_key"] == requests[1]["idempotency_key"]


def test_error_before_sends_the_configured_error_and_should_retry(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """error_before with 503, a code and Stripe-Should-Retry: false reaches the SDK as set."""
    standin_admin.arm([{"action": "error_before", "status": 503, "code": "lock_timeout",
                        "should_retry": False}])
    with pytest.raises(stripe.APIError) as info:
        sdk(standin, retries=2).v1.charges.create(params=charge_params("pay_5"))
    assert info.value.http_status == 503
    assert info.value.json_body["error"]["code"] == "lock_timeout"
    assert info.value.headers["Stripe-Should-Retry"] == "false"
    assert standin_admin.charges() == []
    assert len(standin_admin.ledger_entries("request")) == 1  # should_retry false: no retry


def test_error_after_charges_and_stores_the_500_on_the_key(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """error_after: the charge is made, the 500 is stored, and the SDK's retries replay the 500."""
    standin_admin.arm([{"action": "error_after", "payment_id": "pay_6", "count": 1}])
    with pytest.raises(stripe.APIError) as info:
        sdk(standin, retries=1).v1.charges.create(params=charge_params("pay_6"))
    assert info.value.http_status == 500
    assert info.value.headers.get("Idempotent-Replayed") == "true"
    assert len(standin_admin.charges("pay_6")) == 1
    requests = standin_admin.ledger_entries("request")
    assert [(r["status"], r["replayed"]) for r in requests] == [(500, False), (500, True)]


def test_hang_after_charges_and_holds_the_response_past_the_timeout(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """hang_after: the client times out, the charge exists, and a retry replays the success."""
    standin_admin.arm([{"action": "hang_after", "ms": 1500, "payment_id": "pay_7", "count": 1}])
    with pytest.raises(stripe.APIConnectionError, match=r"(?i)timed out|timeout"):
        sdk(standin, timeout=0.3).v1.charges.create(params=charge_params("pay_7"),
                                                    options={"idempotency_key": "kh"})
    assert len(standin_admin.charges("pay_7")) == 1
    again = sdk(standin).v1.charges.create(params=charge_params("pay_7"),
                                           options={"idempotency_key": "kh"})
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(standin_admin.charges("pay_7")) == 1


def test_hang_and_gate_do_not_block_other_requests(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """While one payment hangs and another waits at a gate, a third is served at once."""
    standin_admin.arm([
        {"action": "hang_after", "ms": 3000, "payment_id": "pay_h"},
        {"action": "gate", "n": 2, "timeout_ms": 3000, "payment_id": "pay_g"},
    ])
    held = [
        threading.Thread(
            target=lambda p=pid: sdk(standin).v1.charges.create(params=charge_params(p)),
            daemon=True,
        )
        for pid in ("pay_h", "pay_g")
    ]
    for thread in held:
        thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    sdk(standin).v1.charges.create(params=charge_params("pay_free"))
    # Blocked behind either, it would take about 3 s; served at once, far less.
    assert time.monotonic() - started < 1.5
    for thread in held:
        thread.join(timeout=10)
    assert {c["payment_id"] for c in standin_admin.charges()} == {"pay_h", "pay_g", "pay_free"}


def test_latency_delays_the_request(standin: str, standin_admin: StandinAdmin) -> None:
    """latency ms=300 (with jitter) delays a matching request by 300–400 ms."""
    standin_admin.arm([{"action": "latency", "ms": 300, "jitter_ms": 100, "payment_id": "pay_8"}])
    started = time.monotonic()
    sdk(standin).v1.charges.create(params=charge_params("pay_8"))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 3.0  # the lower bound is the behaviour; the upper only catches a hang
    [request] = standin_admin.ledger_entries("request")
    assert request["fault"] == "latency"


def test_gate_releases_held_requests_together_and_without_keys_both_charge(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """gate n=3: three keyless requests for one payment are held, released together, all charge."""
    standin_admin.arm([{"action": "gate", "n": 3, "timeout_ms": 5000, "payment_id": "pay_9"}])
    done: list[float] = []

    def call() -> None:
        sdk(standin).v1.charges.create(params=charge_params("pay_9"))
        done.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.4)  # ungated, the answers would be at least 0.8 s apart
    for t in threads:
        t.join(timeout=10)
    assert len(done) == 3 and max(done) - min(done) < 0.4
    assert len(standin_admin.charges("pay_9")) == 3


def test_gate_timeout_releases_a_lone_request(standin: str, standin_admin: StandinAdmin) -> None:
    """A gate that never fills lets its requests go once timeout_ms passes."""
    standin_admin.arm([{"action": "gate", "n": 5, "timeout_ms": 300, "payment_id": "pay_10"}])
    started = time.monotonic()
    sdk(standin).v1.charges.create(params=charge_params("pay_10"))
    assert 0.3 <= time.monotonic() - started < 4.0  # released by the timeout, not held forever


def test_rate_limit_is_a_429_that_is_not_stored(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """rate_limit answers 429 without executing; the same key then executes normally."""
    standin_admin.arm([{"action": "rate_limit", "payment_id": "pay_11", "count": 1}])
    client = sdk(standin)
    with pytest.raises(stripe.RateLimitError):
        client.v1.charges.create(params=charge_params("pay_11"), options={"idempotency_key": "kr"})
    charge = client.v1.charges.create(params=charge_params("pay_11"),
                                      options={"idempotency_key": "kr"})
    assert charge.last_response.headers.get("Idempotent-Replayed") is None
    assert len(standin_admin.charges("pay_11")) == 1


def test_nth_count_and_seeded_probability_choose_requests_exactly(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """nth=2 fires on the second match only; probability with a seed repeats the same choices."""
    standin_admin.arm([{"action": "error_before", "nth": 2, "payment_id": "pay_n"}])
    client = sdk(standin)
    outcomes = []
    for _ in range(3):
        try:
            client.v1.charges.create(params=charge_params("pay_n"))
            outcomes.append("ok")
        except stripe.APIError:
            outcomes.append("err")
    assert outcomes == ["ok", "err", "ok"]

    def run() -> list[str]:
        standin_admin.reset()
        standin_admin.arm([{"action": "error_before", "probability": 0.5, "seed": 7,
                            "count": 3}])
        seen = []
        for _ in range(12):
            try:
                client.v1.charges.create(params=charge_params("pay_q"))
                seen.append("ok")
            except stripe.APIError:
                seen.append("err")
        return seen

    first, second = run(), run()
    assert first == second and first.count("err") == 3
    [rule] = standin_admin.faults()
    assert rule["fired"] == 3 and rule["matched"] == 12


def test_after_faults_apply_only_to_requests_that_execute(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """An unlimited drop_after drops the executing request; the retry is replayed, not dropped."""
    standin_admin.arm([{"action": "drop_after", "payment_id": "pay_12"}])
    charge = sdk(standin, retries=2).v1.charges.create(params=charge_params("pay_12"))
    assert charge.last_response.headers.get("Idempotent-Replayed") == "true"
    faults = [r["fault"] for r in standin_admin.ledger_entries("request")]
    assert faults == ["drop_after", None]
    [rule] = standin_admin.faults()
    assert (rule["matched"], rule["fired"]) == (2, 1)
