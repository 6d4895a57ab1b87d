"""Holding the provider still: new API requests wait while every clock of a run moves at once."""

from __future__ import annotations

import asyncio

# Longest a pause may hold requests: a nemesis that dies mid-pause must never hang the provider.
MAX_HOLD_MS = 60_000


class Pause:
    """While held, every new `/v1/` request waits before it is read, executed or logged.

    A day passing is two moves, the service's clock and then the provider's. A charge whose
    attempt began between them would be recorded by the service after the day passed and by
    the provider before it — a key that only the provider forgets, so a correct service would
    charge twice, which no real clock does. Holding the provider's requests across both moves
    makes the day pass for everyone at once. The hold ends on `release`, on its timeout, or on
    a reset.
    """

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._timer: asyncio.TimerHandle | None = None
        self.waiting = 0

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    def hold(self, timeout_ms: int) -> None:
        """Hold new requests until `release`, or `timeout_ms` from now at the latest."""
        if self._timer is not None:
            self._timer.cancel()
        self._open.clear()
        self._timer = asyncio.get_running_loop().call_later(timeout_ms / 1000.0, self.release)

    def release(self) -> int:
        """Let every waiting request through; return how many were waiting."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self.waiting = self.waiting, 0
        self._open.set()
        return waiting

    async def wait(self) -> None:
        """Return at once, or once the pause is released."""
        if self._open.is_set():
            return
        self.waiting += 1
        await self._open.wait()


__all__ = ["MAX_HOLD_MS", "Pause"]
