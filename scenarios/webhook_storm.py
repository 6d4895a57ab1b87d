"""webhook_storm: webhooks as Stripe delivers them — twice, late, out of order, lost then sent.

The race it hunts: a webhook handler that acts once per *delivery* instead of once per
*event*. Stripe delivers every event at least once; this scenario makes "more than once" and
"not in order" common: a third of the events are delivered twice (`webhook_duplicate`),
some late (`webhook_delay`), some held back until a later event for the same payment got
through (`webhook_reorder`), some lost and redelivered (`webhook_drop_then_redeliver`). A
share of the charges also lose their answer (`drop_after`), so a service has to learn their
outcome from the webhook (or its reconciler). A share of the payments are made for the
customer `decline`, whom the reference service charges with Stripe's always-declined card,
so failure events (`charge.failed`) flow too; map that customer to a declining card in your
own service to exercise its failure path. `safe` records what a `charge.succeeded` says
once, whatever the number of deliveries; `dunning` charges a backup card on every delivery
of `charge.failed` and is caught.

The service must receive webhooks: register its endpoint at the stand-in through Stripe's
API (`POST /v1/webhook_endpoints`) or start the stand-in with `--webhook URL`.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=http://127.0.0.1:12111 \\
locust -f scenarios/webhook_storm.py --headless -u 8 -r 8 -t 10s --host http://127.0.0.1:8000`
(`PAYRACE_DECLINE_P` default 0.4: payments for the declining customer; `PAYRACE_DUPLICATE_P`
default 0.35; `PAYRACE_DELAY_P` default 0.2 with `PAYRACE_DELAY_MS` 300; `PAYRACE_REORDER_P`
default 0.2; `PAYRACE_REDELIVER_P` default 0.15; `PAYRACE_DROP_P` default 0.1;
`PAYRACE_CLIENT_TIMEOUT` default 2.0 s).
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

FAULT_FAMILIES = ("provider", "webhooks")
DECLINING_CUSTOMER = "decline"
DECLINE_P, DUPLICATE_P, DELAY_P, DELAY_MS, REORDER_P, REDELIVER_P, DROP_P, ATTEMPTS = (
    declare_knobs(
        Knob("decline_p", 0.4, "share of payments for the declining customer"),
        Knob("duplicate_p", 0.35, "share of events delivered twice"),
        Knob("delay_p", 0.2, "share of events delivered late"),
        Knob("delay_ms", 300, "how late a late event is, ms"),
        Knob("reorder_p", 0.2, "share of events held until a later one got through"),
        Knob("redeliver_p", 0.15, "share of events lost, then redelivered"),
        Knob("drop_p", 0.1, "share of charges whose answer is lost (drop_after)"),
        Knob("attempts", 3, "charge attempts until an answer is known")))


@run_once_at_start
def _arm_delivery_faults(environment: Environment) -> None:
    def knob(k: Knob) -> float:
        return k.value(environment)

    delay_ms = int(knob(DELAY_MS))
    # Each rule draws apart (its own seed), so one event may be late *and* duplicated.
    arm_faults(environment, [
        {"action": "webhook_duplicate", "probability": knob(DUPLICATE_P), "seed": seed()},
        {"action": "webhook_delay", "probability": knob(DELAY_P), "seed": seed() + 1,
         "ms": delay_ms},
        {"action": "webhook_reorder", "probability": knob(REORDER_P), "seed": seed() + 2,
         "timeout_ms": 2 * delay_ms},
        {"action": "webhook_drop_then_redeliver", "probability": knob(REDELIVER_P),
         "seed": seed() + 3, "ms": delay_ms},
        {"action": "drop_after", "probability": knob(DROP_P), "seed": seed() + 4,
         "money": True},
    ], note="webhook deliveries")


class WebhookStormUser(PayraceUser):
    """Creates a payment (some for the declining customer), charges it, retries the unknown."""

    wait_time = between(0.0, 0.1)
    network_timeout = 2.0

    @task
    def pay(self) -> None:
        decline_p = DECLINE_P.value(self.environment)
        customer = DECLINING_CUSTOMER if self.rng.random() < decline_p else None
        payment_id = self.create_payment(customer=customer)
        if payment_id is None:
            return
        attempts = int(ATTEMPTS.value(self.environment))
        self.charge_with_retries(payment_id, "same", attempts, backoff=0.05)
        self.read(payment_id)
