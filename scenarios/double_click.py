"""double_click: the customer who clicks "Pay" several times — concurrent charges for one payment.

The race it hunts: check-then-act. Several charge requests for the same payment arrive at
once; an implementation that reads `pending`, calls the provider and only then writes
`completed` lets each of them see `pending` and charge the card (the `naive` variant, and
`mutex` whenever the requests land in different worker processes). The stand-in's `gate`
holds the provider calls for one payment until all of them have arrived, so the race
happens every time instead of sometimes. `pr145`'s `SELECT … FOR UPDATE` serialises these
requests: this scenario finds nothing there, which is exactly why PR #145's own test passed.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=http://127.0.0.1:12111 \\
locust -f scenarios/double_click.py --headless -u 8 -r 8 -t 10s --host http://127.0.0.1:8000`
(`PAYRACE_CLICKS`, default 4: charge requests per payment; `PAYRACE_GATE_MS`, default 400:
how long the gate waits for all of them before letting the arrived ones through).
"""

from __future__ import annotations

from locust import between, task
from locust.env import Environment

from scenarios.common import Knob, PayraceUser, arm_faults, declare_knobs, run_once_at_start

FAULT_FAMILIES = ("provider",)
CLICKS, GATE_MS = declare_knobs(
    Knob("clicks", 4, "charge requests fired at once per payment (at least 2)"),
    Knob("gate_ms", 400, "the most the stand-in holds a payment's calls for the others"))


def clicks(environment: Environment) -> int:
    return max(2, int(CLICKS.value(environment)))


@run_once_at_start
def _arm_gate(environment: Environment) -> None:
    # One rule serves every payment: the stand-in keeps a separate gate per metadata[payment_id].
    rule = {"action": "gate", "n": clicks(environment),
            "timeout_ms": int(GATE_MS.value(environment))}
    arm_faults(environment, [rule], note="gate per payment")


class DoubleClickUser(PayraceUser):
    """Creates a payment, then fires CLICKS charge requests for it at the same instant."""

    wait_time = between(0.0, 0.05)
    network_timeout = 10.0

    @task
    def double_click(self) -> None:
        payment_id = self.create_payment()
        if payment_id is None:
            return
        # A browser double submit resends the same form: the same client key, or none at all.
        key = f"dc-{payment_id}" if self.rng.random() < 0.5 else None
        self.at_once([lambda proc: self.charge(payment_id, key, process=proc)]
                     * clicks(self.environment))
        self.read(payment_id)
