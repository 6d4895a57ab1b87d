"""running_service refuses bad arguments before starting any process."""

from __future__ import annotations

import pytest

from harness.errors import EXIT_USAGE, PayraceError
from harness.provision.service import running_service


def _refusal(**overrides: object) -> PayraceError:
    args: dict[str, object] = {
        "variant": "safe",
        "workers": 1,
        "database_url": "postgresql+psycopg://u@127.0.0.1:1/x",
        "stripe_url": "http://127.0.0.1:1",
    }
    args.update(overrides)
    with pytest.raises(PayraceError) as caught, running_service(**args):  # type: ignore[arg-type]
        pass
    return caught.value


def test_an_unknown_variant_is_a_usage_error_listing_every_variant() -> None:
    error = _refusal(variant="nope")
    assert error.exit_code == EXIT_USAGE
    assert "'nope'" in str(error) and "naive, mutex, pr145, safe, dunning" in str(error)


def test_zero_workers_is_a_usage_error_naming_the_value() -> None:
    error = _refusal(workers=0)
    assert error.exit_code == EXIT_USAGE
    assert "workers=0" in str(error)


def test_a_live_key_is_refused_before_the_service_starts() -> None:
    error = _refusal(stripe_api_key="sk_live_123")
    assert error.exit_code == EXIT_USAGE
    assert "live" in str(error)


def test_a_provider_outside_loopback_without_a_test_key_is_refused() -> None:
    error = _refusal(stripe_url="https://api.stripe.com", stripe_api_key="rk_test_1")
    assert error.exit_code == EXIT_USAGE
    assert "api.stripe.com" in str(error)
