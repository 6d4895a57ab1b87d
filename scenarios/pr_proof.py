"""pr_proof: PR #145's own proof, replayed: 100 concurrent charges for one payment, no faults.

The race it hunts: the one the PR was written for. Many requests for the same payment
arrive at once and more than one of them charges the card. PR #145's `SELECT … FOR
UPDATE` does serialise them, so against `pr145` this passes — one charge, 99 answers of
"already processed" — exactly as the PR's test did. Run it beside `retry_storm` or `chaos`
to see what a happy-path test cannot: the lost response and the failed commit.

One user, one payment, then the run ends. Run it alone:
`PAYRACE_HISTORY=h.jsonl locust -f scenarios/pr_proof.py --headless -u 1 -r 1 -t 30s \\
--host http://127.0.0.1:8000` (`PAYRACE_PROOF_REQUESTS`, default 100).
"""

from __future__ import annotations

import gevent
from locust import constant, task
from locust.env import Environment
from locust.exception import StopUser

from scenarios.common import Knob, PayraceUser, declare_knobs

FAULT_FAMILIES: tuple[str, ...] = ()
(REQUESTS,) = declare_knobs(Knob("proof_requests", 100, "concurrent charge requests (at least 2)"))


class PrProofUser(PayraceUser):
    """Creates one payment and fires REQUESTS charge requests for it at the same instant."""

    fixed_count = 1
    wait_time = constant(0)
    network_timeout = 30.0

    def __init__(self, environment: Environment) -> None:
        self.requests = max(2, int(REQUESTS.value(environment)))
        # Room for every request at once; Locust's client takes it when built.
        self.concurrency = max(128, self.requests)
        super().__init__(environment)

    @task
    def the_prs_test(self) -> None:
        payment_id = self.create_payment()
        if payment_id is not None:
            self.at_once([lambda proc: self.charge(payment_id, None, process=proc)]
                         * self.requests)
            self.read(payment_id)
        # The PR's test ran once; so does this one, and then the whole run ends.
        runner = self.environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)
        raise StopUser()
