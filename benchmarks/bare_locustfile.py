"""A bare FastHttpUser making steady's requests (create, charge, read), recording nothing.

The floor bench_locust_user.py holds payrace's users against: the same requests in the same
mix (7 payments to 3 receipt reads, no think time), with none of payrace's work per request
(no adapter, no classification, no history).
"""

from __future__ import annotations

import random

from locust import FastHttpUser, task


class BareUser(FastHttpUser):
    """Pays once per payment and reads recent payments back, as steady's users mostly do."""

    concurrency = 128

    def on_start(self) -> None:
        self.recent: list[str] = []
        self.rng = random.Random(0)

    def wait_time(self) -> float:
        return 0.0

    @task(7)
    def pay(self) -> None:
        body = {"amount": self.rng.randrange(100, 20_000), "currency": "usd", "customer": "c"}
        with self.client.request("POST", "/payments", json=body, name="POST /payments",
                                 catch_response=True) as created:
            payment_id = created.json()["id"]
            created.success()
        self.recent = [*self.recent[-19:], payment_id]
        with self.client.request("POST", f"/payments/{payment_id}/charge",
                                 headers={"Idempotency-Key": f"ck-{payment_id}"},
                                 name="POST /payments/[id]/charge", catch_response=True) as paid:
            paid.json()
            paid.success()

    @task(3)
    def read(self) -> None:
        if self.recent:
            with self.client.request("GET", f"/payments/{self.rng.choice(self.recent)}",
                                     name="GET /payments/[id]", catch_response=True) as read:
                read.json()
                read.success()
