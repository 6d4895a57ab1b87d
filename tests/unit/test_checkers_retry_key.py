"""retry-key-stability: a warning when one payment's provider requests used more than one key."""

from __future__ import annotations

from harness.checkers.evidence import Evidence, charge_endpoint
from harness.checkers.retry_key_stability import check_retry_key_stability
from harness.checkers.testing import HistoryBuilder, LedgerBuilder


def _history() -> HistoryBuilder:
    h = HistoryBuilder()
    h.create("w0", "pay_1", 0.0)
    return h


def test_retries_under_one_key_are_valid() -> None:
    """The safe variant: the retry reuses the key and is replayed."""
    ledger = LedgerBuilder()
    ledger.charged(0.1, "pay_1", "ch_1", key="payrace-charge-pay_1")
    ledger.request(1.0, "pay_1", key="payrace-charge-pay_1", replayed=True)
    result = check_retry_key_stability(Evidence(_history().ops, ledger.entries))
    assert (result.validity, result.severity) == ("valid", "warning")
    assert result.summary == "1 retried charge of 1 payment kept one idempotency key per endpoint"
    assert result.stats["requests"] == 2


def test_retries_without_a_key_warn_even_without_a_duplicate() -> None:
    """PR #145 sends no key: two requests are two unsafe keys, though only one charged."""
    ledger = LedgerBuilder()
    ledger.request(0.1, "pay_1", status=500, fault="error_before")
    ledger.charged(1.0, "pay_1", "ch_1")
    result = check_retry_key_stability(Evidence(_history().ops, ledger.entries))
    assert (result.validity, result.severity) == ("invalid", "warning")
    [v] = result.violations
    assert (v.payment_id, v.kind) == ("pay_1", "unstable-key")
    assert v.because == (
        "payment pay_1 reached POST /v1/charges 2 times (req_1 at t=0.100, req_2 at t=1.000) "
        "under 2 different idempotency keys (none, none): had a response been lost, the retry "
        "would charge again"
    )
    assert v.details == {
        "endpoint": "/v1/charges",
        "requests": 2,
        "keys": [None, None],
        "distinct_keys": 2,
    }
    assert [e["seq"] for e in v.ledger] == [1, 2]
    assert result.summary.startswith(
        "1 payment retried a charge under more than one idempotency key"
    )


def test_a_fresh_random_key_per_retry_warns() -> None:
    """A new uuid per attempt is as unsafe as no key at all."""
    ledger = LedgerBuilder()
    ledger.request(0.1, "pay_1", key="k-a", status=503)
    ledger.request(0.2, "pay_1", key="k-b", status=503)
    ledger.charged(0.3, "pay_1", "ch_1", key="k-c")
    [v] = check_retry_key_stability(Evidence(_history().ops, ledger.entries)).violations
    assert (
        "3 times" in v.because and "under 3 different idempotency keys (k-a, k-b, k-c)" in v.because
    )


def test_create_and_confirm_under_their_own_keys_are_fine() -> None:
    """A PaymentIntent created under one key and confirmed under another is correct."""
    ledger = LedgerBuilder()
    ledger.request(0.1, "pay_1", key="pay_1-create", path="/v1/payment_intents")
    ledger.request(0.2, "pay_1", key="pay_1-confirm", path="/v1/payment_intents/pi_1/confirm")
    ledger.request(
        0.3, "pay_1", key="pay_1-confirm", path="/v1/payment_intents/pi_1/confirm", replayed=True
    )
    assert check_retry_key_stability(Evidence([], ledger.entries)).validity == "valid"


def test_confirms_of_one_payment_are_grouped_across_intents() -> None:
    """Two confirms under two keys for one payment warn, whichever intent they name."""
    ledger = LedgerBuilder()
    ledger.request(0.1, "pay_1", key="a", path="/v1/payment_intents/pi_1/confirm")
    ledger.request(0.2, "pay_1", key="b", path="/v1/payment_intents/pi_2/confirm")
    [v] = check_retry_key_stability(Evidence([], ledger.entries)).violations
    assert v.details["endpoint"] == "/v1/payment_intents/*/confirm"


def test_single_requests_reads_and_refunds_never_warn() -> None:
    """One keyless request is not a retry; GETs and refunds move no new money."""
    ledger = LedgerBuilder()
    ledger.request(0.1, "pay_1")
    ledger.request(0.2, "pay_1", method="GET", path="/v1/charges/ch_1")
    ledger.request(0.3, "pay_1", path="/v1/refunds")
    ledger.request(0.4, "pay_1", method="GET", path="/v1/charges")
    result = check_retry_key_stability(Evidence([], ledger.entries))
    assert result.validity == "valid"
    assert result.stats["requests"] == 1


def test_requests_without_payment_id_are_counted_not_judged() -> None:
    """Unattributable requests cannot be grouped; they are counted for the report."""
    ledger = LedgerBuilder()
    ledger.request(0.1, None)
    ledger.request(0.2, None)
    result = check_retry_key_stability(Evidence([], ledger.entries))
    assert result.validity == "valid"
    assert result.stats["unattributed_requests"] == 2


def test_charge_endpoint_recognises_only_money_moving_posts() -> None:
    """The three creating endpoints, trailing slash tolerated; nothing else."""
    assert charge_endpoint("POST", "/v1/charges/") == "/v1/charges"
    assert charge_endpoint("POST", "/v1/payment_intents") == "/v1/payment_intents"
    assert charge_endpoint("POST", "/v1/payment_intents/pi_9/confirm") == (
        "/v1/payment_intents/*/confirm"
    )
    assert charge_endpoint("POST", "/v1/payment_intents/pi_9/cancel") is None
    assert charge_endpoint("GET", "/v1/charges") is None
    assert charge_endpoint("POST", None) is None
