"""retry_storm: impatient clients retrying charges whose responses were lost on the way back.

The race it hunts: "the provider charged the card, but we never heard". The stand-in adds
latency, charges and then drops the connection (`drop_after`), or charges and holds the
response past everyone's patience (`hang_after`); and half the charges stay out of search for
a minute (`search_lag`, as Stripe's search lags writes), so a service that searches for the
lost charge, finds nothing and charges with a new key charges twice. Clients time out quickly
and retry — with
the same Idempotency-Key, a new one per attempt, or none. An implementation that sends the
provider no idempotency key and treats "no answer" as "not charged" (PR #145: the
transaction rolls back, the payment is still `pending`) charges the card again on the retry.
`safe` sends one deterministic key per payment, so every retry replays the first charge.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=http://127.0.0.1:12111 \\
locust -f scenarios/retry_storm.py --headless -u 8 -r 8 -t 10s --host http://127.0.0.1:8000`
(`PAYRACE_CLIENT_TIMEOUT` default 1.0 s; `PAYRACE_DROP_P` default 0.15; `PAYRACE_HANG_P`
default 0.05; `PAYRACE_HANG_MS` default 4500; `PAYRACE_PROVIDER_LATENCY_MS` default 30;
`PAYRACE_SEARCH_LAG_P` default 0.5; `PAYRACE_SEARCH_LAG_MS` default 60000).
"""

from __future__ import annotations

from locust import between, task
from locust.env import Environment

from scenarios.common import (
    Knob,
    PayraceUser,
    arm_faults,
    declare_knobs,
    run_once_at_start,
    seed,
)

FAULT_FAMILIES = ("provider",)
DROP_P, HANG_P, HANG_MS, LATENCY_MS, SEARCH_LAG_P, SEARCH_LAG_MS, ATTEMPTS = declare_knobs(
    Knob("drop_p", 0.15, "share of charges whose answer is lost (drop_after)"),
    Knob("hang_p", 0.05, "share of charges whose answer is held (hang_after)"),
    # Longer than the reference service's provider timeout (4 s): it loses the answer itself.
    Knob("hang_ms", 4500, "how long a held answer is held, ms"),
    Knob("provider_latency_ms", 30, "stand-in latency per provider call, ms (± as much)"),
    # Stripe's search lags writes by "up to a minute" (docs.stripe.com/search#data-freshness):
    # on the stand-in's clock, so a run never outlasts it unless a day passes.
    Knob("search_lag_p", 0.5, "share of charges kept out of search (search_lag)"),
    Knob("search_lag_ms", 60_000, "how long search lags a charge, ms"),
    Knob("attempts", 4, "charge attempts until an answer is known"))
POLICIES = ("same", "new", "none")


@run_once_at_start
def _arm_lost_responses(environment: Environment) -> None:
    def knob(k: Knob) -> float:
        return k.value(environment)

    latency = int(knob(LATENCY_MS))
    # No `path`: every POST under /v1/ (Charges and PaymentIntents alike) can lose its answer.
    arm_faults(environment, [
        {"action": "latency", "ms": latency, "jitter_ms": latency},
        {"action": "drop_after", "probability": knob(DROP_P), "seed": seed(), "money": True},
        {"action": "hang_after", "probability": knob(HANG_P), "seed": seed() + 1,
         "ms": int(knob(HANG_MS)), "money": True},
        # Drawn apart from the losses: some lost charges are searchable, some not yet.
        {"action": "search_lag", "probability": knob(SEARCH_LAG_P), "seed": seed() + 2,
         "ms": int(knob(SEARCH_LAG_MS)), "money": True},
    ], note="lost responses")


class RetryStormUser(PayraceUser):
    """Creates a payment and charges it until it hears an answer, retrying on every unknown."""

    wait_time = between(0.0, 0.1)
    network_timeout = 1.0

    @task
    def pay_impatiently(self) -> None:
        payment_id = self.create_payment()
        if payment_id is None:
            return
        policy = self.rng.choice(POLICIES)
        attempts = int(ATTEMPTS.value(self.environment))
        self.charge_with_retries(payment_id, policy, attempts, backoff=0.05)
        self.read(payment_id)
