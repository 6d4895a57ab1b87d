"""Live progress of a run: elapsed, requests/s, operations and violations so far."""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.ledger import is_money_charge
from harness.runner.parts import part_paths


class OpCounter:
    """Counts completed history lines as they are written, in the file and in per-process parts."""

    def __init__(self, history: Path | None) -> None:
        self.history = history
        self._offsets: dict[Path, int] = {}
        self._lines: dict[Path, int] = {}

    def count(self) -> int:
        """Operations recorded so far (an invoke and its completion are one operation)."""
        if self.history is None:
            return 0
        for path in [self.history, *part_paths(self.history)]:
            try:
                with path.open("rb") as fh:
                    fh.seek(self._offsets.get(path, 0))
                    chunk = fh.read()
            except OSError:
                continue
            # Count only whole lines; a half-written one is counted on the next poll.
            whole = chunk.rfind(b"\n") + 1
            self._offsets[path] = self._offsets.get(path, 0) + whole
            self._lines[path] = self._lines.get(path, 0) + chunk.count(b"\n", 0, whole)
        return sum(self._lines.values()) // 2


def requests_per_second(stats_history_csv: Path) -> float | None:
    """Requests/s over Locust's last written second (its own `Requests/s` column lags by a
    few seconds, so the rate comes from the growth of `Total Request Count`)."""
    try:
        with stats_history_csv.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("Name") == "Aggregated"]
    except OSError:
        return None
    if len(rows) < 2:
        return None
    try:
        (t0, n0), (t1, n1) = ((float(r["Timestamp"]), int(r["Total Request Count"]))
                              for r in rows[-2:])
    except (KeyError, TypeError, ValueError):
        return None
    return (n1 - n0) / (t1 - t0) if t1 > t0 else None


class RateMeter:
    """Requests per second over the last few seconds, from a growing count of completed requests.

    Each recorded operation is one request, so the history's growth is the live rate; Locust
    flushes its own stats CSV only every 10 s.
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._points: list[tuple[float, int]] = []

    def add(self, now: float, count: int) -> float | None:
        self._points.append((now, count))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window_s:
            self._points.pop(0)
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        return (n1 - n0) / (t1 - t0) if t1 - t0 >= 0.5 else None


class DuplicateWatch:
    """Payments charged more than once so far, read incrementally from the stand-in's ledger."""

    def __init__(self, admin: Any, cursor: int = 0) -> None:
        self._admin = admin
        self._cursor = cursor
        self._charges: Counter[str] = Counter()
        self.failed = False

    def poll(self) -> int:
        if not self.failed:
            try:
                while True:
                    page = self._admin.ledger(self._cursor, 5000)
                    for entry in page["entries"]:
                        if is_money_charge(entry) and entry.get("payment_id"):
                            self._charges[entry["payment_id"]] += 1
                    if not page["entries"]:
                        break
                    self._cursor = page["next_cursor"]
            except Exception:
                # Progress is a courtesy: a stand-in that stops answering is judged later.
                self.failed = True
        return sum(1 for n in self._charges.values() if n > 1)

    @property
    def charged(self) -> int:
        """Payments charged at least once, as of the last poll."""
        return len(self._charges)


class ProgressView:
    """One live status line on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, title: str, duration_s: float, *, enabled: bool = True,
                 stream: IO[str] | None = None) -> None:
        self.title = title
        self.duration_s = duration_s
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._live: Live | None = None
        self._last_line = 0.0
        self._every = max(2.0, min(10.0, duration_s / 6))

    def __enter__(self) -> ProgressView:
        if self.tty:
            console = Console(file=self.stream)
            self._live = Live(Text(self.title), console=console, refresh_per_second=4,
                              transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, elapsed: float, rps: float | None, operations: int, violations: int,
               note: str = "") -> None:
        if not self.enabled:
            return
        shown = min(elapsed, self.duration_s)
        rate = f"{rps:,.0f} req/s" if rps is not None else "– req/s"
        parts = [f"{shown:5.1f}s / {self.duration_s:g}s", rate, f"{operations:,} ops",
                 f"{violations} payment{'s' if violations != 1 else ''} charged twice"]
        if note:
            parts.append(note)
        if self._live is not None:
            line = Text(f"{self.title}  ")
            line.append("  ·  ".join(parts[:3]))
            line.append("  ·  ")
            line.append(parts[3], style="bold red" if violations else "green")
            if note:
                line.append(f"  ·  {note}", style="yellow")
            self._live.update(line)
        elif time.monotonic() - self._last_line >= self._every:
            self._last_line = time.monotonic()
            print(f"{self.title}: " + " · ".join(parts), file=self.stream, flush=True)

    def say(self, message: str) -> None:
        """A line that stays (phase changes: stopping, reconciling, checking)."""
        if not self.enabled:
            return
        if self._live is not None:
            self._live.console.print(message)
        else:
            print(message, file=self.stream, flush=True)
