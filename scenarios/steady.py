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

from scenarios.common import (
    ENV_CLIENT_TIMEOUT,
    PayraceUser,
    arm_faults,
    env_float,
    env_int,
    run_once_at_start,
)

LATENCY_MS = env_int("PAYRACE_PROVIDER_LATENCY_MS", 20)
THINK_S = env_float("PAYRACE_THINK_MS", 100.0) / 1000.0
DUPLICATE_SHARE = env_float("PAYRACE_DUPLICATE_SHARE", 0.1)
ATTEMPTS = env_int("PAYRACE_ATTEMPTS", 3)


@run_once_at_start
def _arm_provider_latency(environment: Environment) -> None:
    if LATENCY_MS > 0:
        arm_faults([{"action": "latency", "ms": LATENCY_MS, "jitter_ms": LATENCY_MS // 2}],
                   note="provider latency")


class SteadyUser(PayraceUser):
    """Pays (sometimes twice at once), and reads back payments it made earlier."""

    network_timeout = env_float(ENV_CLIENT_TIMEOUT, 10.0)

    def wait_time(self) -> float:
        return self.rng.uniform(0.0, THINK_S) if THINK_S > 0 else 0.0

    def on_start(self) -> None:
        super().on_start()
        self.recent: list[str] = []

    @task(7)
    def pay(self) -> None:
        payment_id = self.create_payment()
        if payment_id is None:
            return
        self._remember(payment_id)
        if self.rng.random() < DUPLICATE_SHARE:
            key = f"dup-{payment_id}" if self.rng.random() < 0.5 else None
            self.at_once([lambda proc: self.charge(payment_id, key, process=proc)] * 2)
        else:
            self.charge_with_retries(payment_id, "same", ATTEMPTS, backoff=0.05)

    @task(3)
    def look_at_receipt(self) -> None:
        if self.recent:
            self.read(self.rng.choice(self.recent))

    def _remember(self, payment_id: str) -> None:
        self.recent.append(payment_id)
        del self.recent[:-20]
