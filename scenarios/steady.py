"""steady: a realistic day — create, charge and read, with a small share of duplicate submissions.

The race it hunts: the everyday double submit under ordinary load. Most customers pay once
and look at their receipt; about one payment in ten is submitted twice at the same moment
(a double click, a retried form), with the same Idempotency-Key or none. The provider
answers after a realistic delay, which is the window in which a check-then-act
implementation (`naive`) lets both submissions charge. It is also the baseline load for
throughput figures (benchmarks/bench_load.py) and the load under chaos.py's nemesis.

Run it alone: `PAYRACE_HISTORY=h.jsonl PAYRACE_STANDIN_URL=http://127.0.0.1:12111 \\
locust -f scenarios/steady.py --headless -u 16 -r 16 -t 10s --host http://127.0.0.1:8000`
(`PAYRACE_PROVIDER_LATENCY_MS` default 20; `PAYRACE_THINK_MS` default 100: the most a user
waits between actions; `PAYRACE_DUPLICATE_SHARE` default 0.1).
"""

from __future__ import annotations

from locust import task
from locust.env import Environment

from scenarios.common import Knob, PayraceUser, arm_faults, declare_knobs, run_once_at_start

FAULT_FAMILIES = ("provider",)
LATENCY_MS, THINK_MS, DUPLICATE_SHARE, ATTEMPTS = declare_knobs(
    Knob("provider_latency_ms", 20, "stand-in latency per provider call, ms (jitter: half)"),
    Knob("think_ms", 100, "the most a user waits between actions, ms"),
    Knob("duplicate_share", 0.1, "share of payments submitted twice at once"),
    Knob("attempts", 3, "charge attempts until an answer is known"))


@run_once_at_start
def _arm_provider_latency(environment: Environment) -> None:
    latency = int(LATENCY_MS.value(environment))
    if latency > 0:
        arm_faults(environment, [{"action": "latency", "ms": latency, "jitter_ms": latency // 2}],
                   note="provider latency")


class SteadyUser(PayraceUser):
    """Pays (sometimes twice at once), and reads back payments it made earlier."""

    network_timeout = 10.0

    def wait_time(self) -> float:
        think_s = self.think_s
        return self.rng.uniform(0.0, think_s) if think_s > 0 else 0.0

    def on_start(self) -> None:
        super().on_start()
        self.recent: list[str] = []
        self.think_s = THINK_MS.value(self.environment) / 1000.0
        self.duplicate_share = DUPLICATE_SHARE.value(self.environment)
        self.attempts = int(ATTEMPTS.value(self.environment))

    @task(7)
    def pay(self) -> None:
        payment_id = self.create_payment()
        if payment_id is None:
            return
        self._remember(payment_id)
        if self.rng.random() < self.duplicate_share:
            key = f"dup-{payment_id}" if self.rng.random() < 0.5 else None
            self.at_once([lambda proc: self.charge(payment_id, key, process=proc)] * 2)
        else:
            self.charge_with_retries(payment_id, "same", self.attempts, backoff=0.05)

    @task(3)
    def look_at_receipt(self) -> None:
        if self.recent:
            self.read(self.rng.choice(self.recent))

    def _remember(self, payment_id: str) -> None:
        self.recent.append(payment_id)
        del self.recent[:-20]
