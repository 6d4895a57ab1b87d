"""The stand-in's ledger as the report reads it: entries on the real clock."""

from __future__ import annotations

from typing import Any


def on_wall_clock(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies whose `time` is the real time: an entry's `wall`, when present, wins.

    The stand-in's `time` follows its key clock, which the harness can move forward to
    expire idempotency keys; only `wall` keeps such entries on the run's timeline.
    """
    out = []
    for entry in entries:
        wall = entry.get("wall")
        if isinstance(wall, int | float) and not isinstance(wall, bool) and wall > 1e8:
            entry = {**entry, "time": float(wall), "clock_time": entry.get("time")}
        out.append(entry)
    return out
