"""The stand-in's clock: wall time plus an offset the harness can move forward."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds, shifted by `advance()` so a test can age idempotency keys by a day."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch on the stand-in's clock."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back: keys must not become younger) and return now."""
        if seconds < 0:
            raise ValueError(f"The clock only moves forward; got advance_seconds={seconds}")
        self.offset += seconds
        return self.now()

    def reset(self) -> None:
        """Back to wall time."""
        self.offset = 0.0
