"""Settling: after the load or an example, wait until the target has finished its own work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
# GET /payments/{id} statuses after which the service has nothing left to do for a payment.
SETTLED_STATUSES = frozenset({"pending", "completed", "failed"})
DEFAULT_SETTLE_S = 15.0
# explore settles at the end of every example, so its default is shorter: long enough for a
# reconciler lease of a few seconds (raise --settle for longer leases).
EXPLORE_SETTLE_S = 10.0
POLL_S = 0.2
# The provider's ledger must be this still (for these payments) before the target is settled.
QUIET_S = 0.5


def is_settled(row: Row | None, charged: bool = True, *, pending_final: bool = True) -> bool:
    """Nothing left to wait for: a final status, or no money taken yet.

    A payment left `processing` (or `pending`) that the provider never charged cannot be
    charged twice by anything payrace could still see in time; a correct service may keep
    it so for a day (a declined card answered 500 and replayed). One that was charged is
    waited for: its row must catch up with the money. `pending_final`: a charged `pending`
    row is final too — true once the target's own reconcile ran (nothing else will move
    it); false for a service whose background work may still record the charge.
    """
    if row is None:
        return False
    status = row.get("status")
    if status in ("completed", "failed"):
        return True
    if status == "pending":
        return pending_final or not charged
    return status == "processing" and not charged


@dataclass
class Settled:
    """What settling saw: the last row read of every payment, which never settled, how long."""

    rows: dict[str, Row] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)
    waited_s: float = 0.0
    budget_s: float = DEFAULT_SETTLE_S
    reconcile: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return not self.unsettled

    def describe(self) -> str:
        """How the evidence was settled, in the words a verdict uses ("after …")."""
        how = "the target's reconciliation and " if self.reconcile is not None else ""
        if self.done:
            return f"{how}{self.waited_s:.1f} s of settling"
        return f"{how}payrace waited {self.budget_s:g} s for the target to settle"

    def as_dict(self) -> dict[str, Any]:
        return {
            "waited_s": round(self.waited_s, 3),
            "budget_s": round(self.budget_s, 1),
            "settled": self.done,
            "unsettled": self.unsettled[:50],
            "unsettled_count": len(self.unsettled),
            "reconcile": self.reconcile,
        }


def settle(
    poll: Callable[[list[str]], dict[str, Row]],
    payment_ids: Iterable[str],
    *,
    budget_s: float = DEFAULT_SETTLE_S,
    charged: Callable[[], Mapping[str, int]] | None = None,
    poll_s: float = POLL_S,
    quiet_s: float = QUIET_S,
    pending_final: bool = True,
) -> Settled:
    """Poll until every payment settled (`is_settled`) and the ledger is still, or `budget_s`.

    `poll(ids)` returns the current row of each id it could read; `charged()`, read after
    each poll, how many times the provider has charged each payment so far (None: treat
    every payment as charged). The ledger must then stay still for `quiet_s`.
    """
    started = time.monotonic()
    result = Settled(budget_s=budget_s)
    ids = list(dict.fromkeys(payment_ids))
    waiting = ids
    seen = sum(charged().values()) if charged is not None else 0
    still_since = time.monotonic()
    while True:
        if waiting:
            result.rows.update(poll(waiting))
        money = charged() if charged is not None else dict.fromkeys(ids, 1)
        now = time.monotonic()
        if charged is not None and sum(money.values()) != seen:
            seen, still_since = sum(money.values()), now
        waiting = [
            p for p in ids
            if not is_settled(result.rows.get(p), bool(money.get(p)), pending_final=pending_final)
        ]
        # Only a payment left `processing` can still be worked on in the background.
        working = any((result.rows.get(p) or {}).get("status") == "processing" for p in ids)
        if not waiting and (not working or now - still_since >= quiet_s):
            break
        if now - started >= budget_s:
            break
        time.sleep(poll_s)
    result.unsettled = waiting
    result.waited_s = time.monotonic() - started
    return result
