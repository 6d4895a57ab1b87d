"""The reference service's input rules: each refusal names the field and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from reference_impl.config import ServiceConfig
from reference_impl.schema import schema_fingerprint
from reference_impl.validation import FieldError, validate_failpoint, validate_new_payment
from reference_impl.variants import VARIANTS, UnknownVariantError, load


def test_a_valid_payment_body_is_normalised() -> None:
    assert validate_new_payment({"amount": 1000, "currency": "USD", "customer": "c1"}) == (
        1000,
        "usd",
        "c1",
    )
    assert validate_new_payment({"amount": 1}) == (1, "usd", None)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "amount", "Missing amount"),
        ({"amount": "10"}, "amount", "amount='10'"),
        ({"amount": 10.5}, "amount", "amount=10.5"),
        ({"amount": True}, "amount", "amount=True"),
        ({"amount": None}, "amount", "amount=None"),
        ({"amount": 0}, "amount", "amount=0"),
        ({"amount": -5}, "amount", "amount=-5"),
        ({"amount": 100_000_000}, "amount", "between 1 and"),
        ({"amount": 5, "currency": "xyz"}, "currency", "accepted: usd"),
        ({"amount": 5, "currency": 840}, "currency", "currency=840"),
        ({"amount": 5, "customer": 7}, "customer", "customer=7"),
        ({"amount": 5, "customer": "x" * 300}, "customer", "at most 255"),
        ([1000], "body", "JSON object"),
    ],
)
def test_a_bad_payment_body_names_the_field(body: Any, field: str, fragment: str) -> None:
    with pytest.raises(FieldError) as caught:
        validate_new_payment(body)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_a_valid_failpoint_is_accepted_with_defaults() -> None:
    assert validate_failpoint({"name": "after_charge", "action": "crash"}) == (
        "after_charge",
        "crash",
        0,
        None,
    )
    assert validate_failpoint(
        {"name": "before_commit", "action": "sleep", "ms": 50, "count": 2}
    ) == ("before_commit", "sleep", 50, 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "nowhere", "action": "crash"}, "name"),
        ({"name": "after_charge", "action": "explode"}, "action"),
        ({"name": "after_charge", "action": "sleep"}, "ms"),
        ({"name": "after_charge", "action": "sleep", "ms": -1}, "ms"),
        ({"name": "after_charge", "action": "crash", "count": 0}, "count"),
        ({"name": "after_charge", "action": "crash", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_failpoint_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        validate_failpoint(body)
    assert caught.value.field == field


def test_the_config_survives_the_trip_through_worker_environment_variables() -> None:
    config = ServiceConfig(
        database_url="postgresql+psycopg://u@/d?host=/tmp/x",
        stripe_url="http://127.0.0.1:9",
        failpoints=True,
        lease_seconds=2.5,
        pool_size=3,
    )
    assert ServiceConfig.from_env(config.to_env()) == config


def test_a_config_without_its_urls_is_refused() -> None:
    with pytest.raises(ValueError, match="PAYRACE_SERVICE_DATABASE_URL"):
        ServiceConfig.from_env({"PAYRACE_SERVICE_STRIPE_URL": "http://127.0.0.1:9"})


def test_loading_an_unknown_variant_lists_the_known_ones() -> None:
    config = ServiceConfig(database_url="postgresql+psycopg://u@/d", stripe_url="http://x")
    with pytest.raises(UnknownVariantError, match="naive, mutex, pr145, safe, dunning"):
        load("nope", config)
    assert list(VARIANTS) == ["naive", "mutex", "pr145", "safe", "dunning"]


def test_the_schema_fingerprint_is_stable_within_a_version() -> None:
    assert schema_fingerprint() == schema_fingerprint()
    assert len(schema_fingerprint()) == 12
