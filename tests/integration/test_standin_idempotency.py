"""Stripe's idempotency behaviour, proven through the official stripe SDK on a real stand-in."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration


def sdk(url: str, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        TEST_API_KEY, base_addresses={"api": url}, max_network_retries=retries
    )


def charge_params(payment_id: str, amount: int = 1000, source: str = "tok_visa") -> Any:
    return {"amount": amount, "currency": "usd", "source": source,
            "metadata": {"payment_id": payment_id}}


def test_replay_returns_the_same_charge_with_the_replayed_header(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """A second request with the key returns the first Charge, flagged Idempotent-Replayed."""
    client = sdk(standin)
    first = charge(client, "pay_r", "k1")
    again = charge(client, "pay_r", "k1")
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert again.last_response.headers["Request-Id"] != first.last_response.headers["Request-Id"]
    assert len(standin_admin.charges("pay_r")) == 1
    requests = standin_admin.ledger_entries("request")
    assert [r["replayed"] for r in requests] == [False, True]


def test_same_key_other_parameters_raises_idempotency_error(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """Reusing a key with another amount is Stripe's 400 idempotency_error, and charges nothing."""
    client = sdk(standin)
    charge(client, "pay_m", "k2")
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.charges.create(params=charge_params("pay_m", amount=999),
                                 options={"idempotency_key": "k2"})
    assert info.value.http_status == 400
    assert len(standin_admin.charges()) == 1


def test_same_key_on_another_endpoint_raises_idempotency_error(standin: str) -> None:
    """A key first used to charge cannot be reused to create a PaymentIntent."""
    client = sdk(standin)
    charge(client, "pay_e", "k3")
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd"}, options={"idempotency_key": "k3"}
        )


def charge(client: stripe.StripeClient, payment_id: str, key: str) -> Any:
    return client.v1.charges.create(params=charge_params(payment_id),
                                    options={"idempotency_key": key})


def _concurrent(url: str, retries: int, key: str) -> list[Any]:
    results: list[Any] = [None, None]

    def call(i: int) -> None:
        try:
            results[i] = sdk(url, retries).v1.charges.create(
                params=charge_params("pay_c"), options={"idempotency_key": key})
        except stripe.StripeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_concurrent_same_key_gives_one_execution_and_one_409(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """Two requests with one key at once: one executes, the other gets 409 key-in-use."""
    standin_admin.arm([{"action": "gate", "payment_id": "pay_c", "n": 2, "timeout_ms": 5000}])
    results = _concurrent(standin, 0, "k-race")
    errors = [r for r in results if isinstance(r, stripe.StripeError)]
    charges = [r for r in results if not isinstance(r, stripe.StripeError)]
    assert len(charges) == 1 and len(errors) == 1
    assert errors[0].http_status == 409
    assert errors[0].json_body["error"]["code"] == "idempotency_key_in_use"
    assert len(standin_admin.charges("pay_c")) == 1


def test_concurrent_same_key_with_sdk_retries_gets_the_replay(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """With the SDK's default retries the 409 is retried and answered by the replay."""
    standin_admin.arm([
        {"action": "gate", "payment_id": "pay_c", "n": 2, "timeout_ms": 5000, "count": 2},
        {"action": "latency", "payment_id": "pay_c", "ms": 200, "count": 1},
    ])
    results = _concurrent(standin, 2, "k-race2")
    assert all(not isinstance(r, stripe.StripeError) for r in results), results
    assert results[0].id == results[1].id
    assert len(standin_admin.charges("pay_c")) == 1
    replays = [r for r in standin_admin.ledger_entries("request") if r["replayed"]]
    assert len(replays) == 1


def test_keys_are_scoped_to_the_api_key(standin: str, standin_admin: StandinAdmin) -> None:
    """The same key under two API keys is two different keys: two charges, no replay."""
    other = stripe.StripeClient("sk_test_other", base_addresses={"api": standin},
                                max_network_retries=0)
    a = sdk(standin).v1.charges.create(params=charge_params("pay_s"),
                                       options={"idempotency_key": "shared"})
    b = charge(other, "pay_s", "shared")
    assert a.id != b.id
    assert len(standin_admin.charges("pay_s")) == 2


def test_key_is_pruned_after_24_hours_on_the_standin_clock(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """A key younger than a day replays; once the clock moves past 24 h it executes anew."""
    client = sdk(standin)
    first = charge(client, "pay_p", "kp")
    standin_admin.advance_clock(23 * 3600)
    replay = charge(client, "pay_p", "kp")
    assert replay.id == first.id
    standin_admin.advance_clock(3600)
    fresh = charge(client, "pay_p", "kp")
    assert fresh.id != first.id
    assert fresh.last_response.headers.get("Idempotent-Replayed") is None
    assert len(standin_admin.charges("pay_p")) == 2


def test_a_decline_is_stored_and_replayed(standin: str, standin_admin: StandinAdmin) -> None:
    """A 402 card_declined is the key's first response: the retry replays it, charging nothing."""
    client = sdk(standin)
    params = charge_params("pay_d", source="tok_chargeDeclined")
    for expected_replay in (None, "true"):
        with pytest.raises(stripe.CardError) as info:
            client.v1.charges.create(params=params, options={"idempotency_key": "kd"})
        assert info.value.http_status == 402 and info.value.code == "card_declined"
        assert info.value.headers.get("Idempotent-Replayed") == expected_replay
    assert standin_admin.charges() == []


def test_validation_failure_is_not_stored(standin: str, standin_admin: StandinAdmin) -> None:
    """A request that fails validation leaves the key free: the corrected request executes."""
    client = sdk(standin)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.create(params={"currency": "usd", "source": "tok_visa"},
                                 options={"idempotency_key": "kv"})
    assert info.value.code == "parameter_missing" and info.value.param == "amount"
    ok = charge(client, "pay_v", "kv")
    assert ok.status == "succeeded"
    assert len(standin_admin.charges("pay_v")) == 1


def test_key_longer_than_255_characters_is_refused(standin: str) -> None:
    """Stripe's limit: a 256-character key is a 400, and nothing executes."""
    with pytest.raises(stripe.InvalidRequestError, match="255"):
        sdk(standin).v1.charges.create(params=charge_params("pay_l"),
                                       options={"idempotency_key": "k" * 256})
    ok = sdk(standin).v1.charges.create(params=charge_params("pay_l"),
                                        options={"idempotency_key": "k" * 255})
    assert ok.status == "succeeded"
