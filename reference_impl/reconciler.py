"""The reconciler: re-drive `processing` payments whose owner vanished, once or in a loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from reference_impl.responses import Reply

_log = logging.getLogger("reference_impl.reconciler")


class Redrivable(Protocol):
    """What the reconciler needs from a variant (`safe` offers it)."""

    def expired_processing(self, force: bool) -> list[str]: ...

    def claim(
        self, payment_id: str, *, force: bool, from_status: tuple[str, ...]
    ) -> dict[str, Any] | None: ...

    def drive(self, payment: dict[str, Any]) -> Reply: ...


def reconcile(variant: Redrivable, force: bool = False) -> dict[str, int]:
    """Re-drive each `processing` payment whose lease expired; `force` ignores leases.

    Every re-drive goes through the same claim as a client's charge, so two
    reconcilers (one per worker) never drive one payment at once, and through the
    same key, so a charge the lost attempt made is replayed, not repeated.
    """
    counts = {"redriven": 0, "completed": 0, "failed": 0}
    for payment_id in variant.expired_processing(force):
        claimed = variant.claim(payment_id, force=force, from_status=("processing",))
        if claimed is None:
            continue  # settled or taken over since we listed it
        counts["redriven"] += 1
        status, _ = variant.drive(claimed)
        if status == 200:
            counts["completed"] += 1
        elif status == 402:
            counts["failed"] += 1
    return counts


class ReconcileLoop:
    """Run a reconcile callable every `interval` seconds in a daemon thread until stopped."""

    def __init__(self, run_once: Callable[[], dict[str, int]], interval: float) -> None:
        self._run_once = run_once
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="payrace-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                counts = self._run_once()
            except Exception:
                # A failed pass (database restarting, provider down) is retried next period.
                _log.exception("reconcile pass failed")
                continue
            if counts.get("redriven"):
                _log.info("reconciled %s", counts)
