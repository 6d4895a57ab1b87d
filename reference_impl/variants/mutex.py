"""`mutex`: the PR's first version — an in-process lock around the whole flow, Stripe call too.

Flaw: the lock lives in one process. With two or more worker processes, two
requests for one payment land in different workers, both read `pending` and both
charge: a double charge. With one worker it is safe but serial: one slow
provider call stalls every payment of the process.
Caught by: **no-duplicate-charge** with `--workers 2` (a stand-in `gate` with
n=2 makes it deterministic); with one worker the same attack finds nothing,
which is exactly why a single-process test passed.
"""

from __future__ import annotations

import threading

from reference_impl.config import ServiceConfig
from reference_impl.responses import Reply
from reference_impl.variants._base import VariantBase
from reference_impl.variants.naive import unguarded_charge


class Mutex(VariantBase):
    """`naive` behind a process-wide lock (one lock per instance = per worker process)."""

    name = "mutex"

    def __init__(self, config: ServiceConfig) -> None:
        super().__init__(config, max_network_retries=0)
        self._lock = threading.Lock()

    def _charge(self, payment_id: str, idempotency_key: str | None) -> Reply:
        with self._lock:
            return unguarded_charge(self, payment_id)
