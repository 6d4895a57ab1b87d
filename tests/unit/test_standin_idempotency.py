"""The idempotency store: claim, replay, mismatch, in-flight 409, API-key scope and 24 h pruning."""

from __future__ import annotations

import pytest

from harness.stripe_standin.idempotency import KEY_LIFETIME_SECONDS, IdempotencyStore
from harness.stripe_standin.wire import StripeError

EP = "POST /v1/charges"


def test_first_use_claims_then_finish_stores_and_replays() -> None:
    store = IdempotencyStore()
    assert store.begin("sk_test_a", "k", EP, "d1", now=0) is None
    store.finish("sk_test_a", "k", 402, b'{"error": {}}', {"X": "1"})
    stored = store.begin("sk_test_a", "k", EP, "d1", now=1)
    assert stored is not None and (stored.status, stored.body) == (402, b'{"error": {}}')


def test_in_flight_key_is_a_409_key_in_use() -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d1", now=0)
    with pytest.raises(StripeError) as info:
        store.begin("sk_test_a", "k", EP, "d1", now=0)
    assert info.value.status == 409 and info.value.code == "idempotency_key_in_use"


@pytest.mark.parametrize(("endpoint", "digest", "phrase"), [
    (EP, "other", "same parameters"), ("POST /v1/refunds", "d1", "same endpoint"),
])
def test_reuse_with_other_parameters_or_endpoint_is_idempotency_error(
    endpoint: str, digest: str, phrase: str
) -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d1", now=0)
    store.finish("sk_test_a", "k", 200, b"{}")
    with pytest.raises(StripeError) as info:
        store.begin("sk_test_a", "k", endpoint, digest, now=0)
    assert info.value.status == 400 and info.value.type == "idempotency_error"
    assert phrase in info.value.message


def test_keys_are_scoped_to_the_api_key() -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d1", now=0)
    assert store.begin("sk_test_b", "k", EP, "d2", now=0) is None


def test_released_claim_stores_nothing_so_the_key_is_free() -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d1", now=0)
    store.release("sk_test_a", "k")
    assert store.begin("sk_test_a", "k", EP, "other", now=0) is None


def test_keys_are_pruned_once_at_least_24_hours_old() -> None:
    store = IdempotencyStore()
    for i, created in enumerate((0, 10, 20)):
        store.begin("sk_test_a", f"k{i}", EP, "d", now=created)
        store.finish("sk_test_a", f"k{i}", 200, b"{}")
    assert store.prune(KEY_LIFETIME_SECONDS - 1) == 0
    assert store.prune(KEY_LIFETIME_SECONDS + 10) == 2
    assert len(store) == 1
    assert store.begin("sk_test_a", "k0", EP, "new", now=KEY_LIFETIME_SECONDS + 10) is None


def test_in_flight_keys_are_never_pruned() -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d", now=0)
    assert store.prune(10 * KEY_LIFETIME_SECONDS) == 0


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_keys_must_be_1_to_255_characters(key: str) -> None:
    with pytest.raises(StripeError, match="255"):
        IdempotencyStore.validate_key(key)
    IdempotencyStore.validate_key("x" * 255)


def test_keys_in_use_when_the_day_passes_start_a_new_lifetime() -> None:
    """A key executing or used in the window is renewed; an idle one still ages and goes."""
    store = IdempotencyStore()
    for key in ("idle", "recent"):
        store.begin("sk_test_a", key, EP, "d", now=0)
        store.finish("sk_test_a", key, 200, b"{}")
    store.begin("sk_test_a", "executing", EP, "d", now=0)  # no answer yet
    for key in ("idle", "executing"):  # last used long ago in real time
        store._keys[("sk_test_a", key)].touched -= 60
    day = KEY_LIFETIME_SECONDS + 3600
    assert store.renew_in_use(now=day, within_s=5) == 2
    store.finish("sk_test_a", "executing", 200, b"{}")
    assert store.begin("sk_test_a", "idle", EP, "d", now=day) is None  # forgotten: a new claim
    for key in ("recent", "executing"):
        assert store.begin("sk_test_a", key, EP, "d", now=day) is not None  # replayed
    # The renewed keys age from the jump and are pruned a day after it, in order.
    assert store.prune(now=day + KEY_LIFETIME_SECONDS) == 2


def test_keys_named_to_age_are_never_renewed() -> None:
    """The lost charges' keys, between attempts: they age even when used in the window."""
    store = IdempotencyStore()
    for key in ("lost", "busy"):
        store.begin("sk_test_a", key, EP, "d", now=0)
        store.finish("sk_test_a", key, 200, b"{}")
    day = KEY_LIFETIME_SECONDS + 3600
    assert store.renew_in_use(now=day, within_s=60, except_keys=frozenset({"lost"})) == 1
    assert store.begin("sk_test_a", "lost", EP, "d", now=day) is None
    assert store.begin("sk_test_a", "busy", EP, "d", now=day) is not None


def test_renewing_nothing_when_no_window_is_given() -> None:
    store = IdempotencyStore()
    store.begin("sk_test_a", "k", EP, "d", now=0)
    assert store.renew_in_use(now=10**6, within_s=0) == 0
