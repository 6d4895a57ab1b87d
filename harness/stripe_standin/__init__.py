"""payrace's Stripe stand-in: Stripe's wire format, exact idempotency, a ledger and faults."""

from __future__ import annotations

from harness.stripe_standin.client import StandinAdmin
from harness.stripe_standin.process import running_standin

# The key tests and runs use; any sk_test_… key works, live keys never do.
TEST_API_KEY = "sk_test_payrace"

__all__ = ["TEST_API_KEY", "StandinAdmin", "running_standin"]
