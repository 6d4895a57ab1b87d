"""The stand-in's core Stripe behaviours through other official SDKs: stripe-node, and
stripe-python's async client (its sync client is what every other stand-in test uses)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import stripe

from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "examples" / "node-express" / "node_modules"
SCRIPT = Path(__file__).with_name("sdk") / "stripe_node_core.js"


def test_stripe_node_create_replay_mismatch_decline_search_refund(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """stripe-node sees Stripe's answers: a replay with Idempotent-Replayed, a 400 for the key
    reused with other parameters, a card error, search, refund, a confirmed PaymentIntent."""
    if not NODE_MODULES.is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: `make test` runs `npm ci` there first")
    done = subprocess.run(
        ["node", str(SCRIPT), standin], capture_output=True, text=True, timeout=60,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, check=False,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["replayed_same_id"] is True and out["replayed_header"] == "true"
    assert out["mismatch"] == "400 StripeIdempotencyError"
    assert out["decline"] == "402 StripeCardError card_declined"
    # Search finds both charges carrying the payment id: the one that took money, and the
    # declined one, as Stripe's search does.
    assert sorted(status for _, status in out["search"]) == ["failed", "succeeded"]
    assert [out["created"], "succeeded"] in out["search"]
    assert out["refund"] == "refund 1234 succeeded"
    assert out["intent"] == "succeeded"
    assert sorted(c["payment_id"] for c in standin_admin.charges()) == ["pay_node", "pay_node_pi"]


def test_stripe_python_async_client(standin: str, standin_admin: StandinAdmin) -> None:
    """The async client (aiohttp): a charge, its replay under the same key, and a decline."""

    async def scenario() -> tuple[Any, Any, str | None]:
        client = stripe.StripeClient(
            TEST_API_KEY, base_addresses={"api": standin}, max_network_retries=0,
            http_client=stripe.AIOHTTPClient(),
        )
        params: Any = {"amount": 700, "currency": "usd", "source": "tok_visa",
                       "metadata": {"payment_id": "pay_async"}}
        options: Any = {"idempotency_key": "async-key"}
        first = await client.v1.charges.create_async(params=params, options=options)
        again = await client.v1.charges.create_async(params=params, options=options)
        try:
            await client.v1.charges.create_async(params={**params, "source": "tok_chargeDeclined"})
            declined = None
        except stripe.CardError as exc:
            declined = exc.code
        return first, again, declined

    first, again, declined = asyncio.run(scenario())
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert declined == "card_declined"
    assert [c["payment_id"] for c in standin_admin.charges()] == ["pay_async"]
