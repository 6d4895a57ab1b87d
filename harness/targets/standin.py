"""The stand-in as every command reads it: that `--stripe-url` is one, its ledger, its webhooks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from typing import Any

import httpx

from harness.errors import ProvisionError
from harness.ledger import is_money_charge
from harness.stripe_standin import StandinAdmin


def verify_standin(url: str) -> dict[str, Any]:
    """The stand-in's health, or ProvisionError saying the URL is not a payrace stand-in."""
    from harness.safety import check_provider_url
    from harness.stripe_standin import TEST_API_KEY

    check_provider_url(url, TEST_API_KEY)
    health_url = url.rstrip("/") + "/_standin/health"
    try:
        response = httpx.get(health_url, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ProvisionError(
            f"The stand-in at --stripe-url {url} did not answer ({type(exc).__name__}); start "
            "it with `payrace stand-in` and point your service at it"
        ) from None
    try:
        health = response.json()
    except ValueError:
        health = None
    if response.status_code != 200 or not isinstance(health, dict) or (
        health.get("standin") != "payrace"
    ):
        raise ProvisionError(
            f"--stripe-url {url} is not a payrace stand-in: GET /_standin/health answered "
            f"{response.status_code}; start one with `payrace stand-in`"
        )
    return health


def ledger_end(admin: StandinAdmin) -> int:
    """The ledger's current end: a shared stand-in's older entries belong to other runs.

    One health call (its `ledger_entries` is the last seq), not a read of the whole ledger.
    """
    return int(admin.health()["ledger_entries"])


def entries_since(admin: StandinAdmin, cursor: int) -> tuple[list[dict[str, Any]], int]:
    """Every ledger entry after `cursor`, and the cursor after them."""
    entries: list[dict[str, Any]] = []
    while True:
        page = admin.ledger(cursor, 5000)
        if not page["entries"]:
            return entries, cursor
        entries.extend(page["entries"])
        cursor = int(page["next_cursor"])


class ChargedPayments:
    """The watched payments the provider has charged so far, read from the ledger as it grows."""

    def __init__(self, admin: StandinAdmin, cursor: int, payment_ids: set[str] | None = None):
        self.admin = admin
        self.cursor = cursor
        self.payment_ids = payment_ids
        self.charged: Counter[str] = Counter()

    def __call__(self) -> Counter[str]:
        entries, self.cursor = entries_since(self.admin, self.cursor)
        for entry in entries:
            pid = entry.get("payment_id")
            wanted = self.payment_ids is None or pid in self.payment_ids
            if wanted and pid is not None and is_money_charge(entry):
                self.charged[str(pid)] += 1
        return self.charged


def webhooks_pending(state: dict[str, Any]) -> int:
    """Deliveries the stand-in still owes: queued, scheduled (delay, retry), held, in flight."""
    return sum(int(state.get(k) or 0) for k in ("queued", "scheduled", "held", "in_flight"))


def drain_webhooks(
    admin: StandinAdmin, budget_s: float, *, retry_budget_s: float | None = None,
    payment_ids: Collection[str] = (), poll_s: float = 0.02,
) -> int:
    """Wait until every webhook delivery the stand-in owes was attempted to its end.

    A service that learns outcomes from webhooks (or re-drives payments on them) is still at
    work while one is owed, so it is judged only after. First attempts (queued, delayed, held,
    in flight) are waited for up to `budget_s`; retries of attempts the service failed only
    up to `retry_budget_s` (default: the whole budget) — a receiver that answers nothing but
    errors would otherwise hold every wait for its whole backoff. Returns what is still owed
    (0: drained); one call when no endpoint is registered. With `payment_ids`, only the
    deliveries of those payments' events count: another client's, or an endpoint nobody
    serves any more, do not hold payrace's wait.
    """
    started = time.monotonic()
    retry_budget = budget_s if retry_budget_s is None else min(retry_budget_s, budget_s)
    while True:
        state = admin.webhooks(payment_ids)
        owed = webhooks_pending(state) if state.get("endpoints") else 0
        retrying = int(state.get("retrying") or 0) if owed else 0
        waited = time.monotonic() - started
        if owed == 0 or waited >= budget_s or (owed == retrying and waited >= retry_budget):
            return owed
        time.sleep(poll_s)
