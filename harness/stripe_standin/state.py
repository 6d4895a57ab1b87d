"""Everything one stand-in holds: clock, ledger, keys, objects and armed faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.stripe_standin.clock import Clock
from harness.stripe_standin.faults import Faults
from harness.stripe_standin.idempotency import IdempotencyStore
from harness.stripe_standin.ledger import Ledger
from harness.stripe_standin.resources import Resources
from harness.stripe_standin.webhooks import Webhooks


@dataclass
class StandinState:
    """One context object instead of globals; `reset()` empties it all."""

    seed: int = 0
    ledger_path: Path | None = None
    # Where every ledger entry is also appended as it is made (`--ledger-journal`).
    journal_path: Path | None = None
    upstream_url: str | None = None
    # Every write stays out of search this long (`--search-lag-ms`); a search_lag rule overrides.
    search_lag_ms: int = 0
    clock: Clock = field(default_factory=Clock)
    ledger: Ledger = field(init=False)
    keys: IdempotencyStore = field(default_factory=IdempotencyStore)
    faults: Faults = field(default_factory=Faults)
    webhooks: Webhooks = field(init=False)
    resources: Resources = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.journal_path)
        self.webhooks = Webhooks(self.ledger, self.clock, self.faults)
        self.resources = Resources(self.ledger, self.webhooks)

    def reset(self) -> None:
        """Forget objects, events, keys, faults (freeing gated requests), the ledger, the clock
        offset, API-registered webhook endpoints and pending deliveries."""
        self.faults.clear()
        self.resources.clear()
        self.keys.clear()
        self.ledger.clear()
        self.clock.reset()
