"""Live progress of `payrace explore`: examples run, steps, elapsed; plain lines off a terminal."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.model.environment import RunStats

PLAIN_EVERY_S = 5.0


def describe(stats: RunStats, *, done: bool = False) -> str:
    elapsed = time.monotonic() - stats.started
    line = (
        f"{stats.examples} examples, {stats.steps} steps, {stats.charges} charges, "
        f"{elapsed:.1f} s"
    )
    if stats.first_violation_s is not None:
        line += f" — first violation at {stats.first_violation_s:.1f} s"
        line += "" if done else ", shrinking it"
    return line


class ExploreProgress:
    """A rich live line on a terminal; otherwise one plain line every few seconds."""

    def __init__(self, stats: RunStats, stream: IO[str], *, interactive: bool) -> None:
        self.stats = stats
        self.stream = stream
        self.interactive = interactive
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None

    def _text(self) -> Text:
        return Text("exploring: " + describe(self.stats), style="cyan")

    def _loop(self) -> None:
        period = 0.25 if self.interactive else PLAIN_EVERY_S
        while not self._stop.wait(period):
            if self._live is not None:
                self._live.update(self._text())
            else:
                print(f"payrace: exploring: {describe(self.stats)}", file=self.stream, flush=True)

    def __enter__(self) -> ExploreProgress:
        if self.interactive:
            console = Console(file=self.stream)
            self._live = Live(self._text(), console=console, transient=True, auto_refresh=False)
            self._live.__enter__()
        self._thread = threading.Thread(target=self._loop, name="payrace-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
        print(
            f"payrace: explored {describe(self.stats, done=True)}", file=self.stream, flush=True
        )
