"""The ledger: append-only, cursor-readable record of every request and every money movement."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

from harness.jsonl import encode_line, write_jsonl


class Ledger:
    """Entries numbered by `seq` from 1; readers page with a cursor (the last seq seen).

    With a `journal` file every entry is also appended there as it is made, one line written
    whole: whatever kills the stand-in (SIGKILL included), the ledger up to that moment is on
    disk, at most its last line torn. An entry is complete when added (a request's entry is
    added once it has been answered), so the journal never holds a half-known one.
    """

    def __init__(self, journal: str | Path | None = None) -> None:
        self._entries: list[dict[str, Any]] = []
        self._journal: TextIO | None = None
        if journal is not None:
            path = Path(journal)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered: each line reaches the kernel in one write when its newline does.
            self._journal = path.open("w", encoding="utf-8", buffering=1)

    def _keep(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)
        if self._journal is not None:
            self._journal.write(encode_line(entry))

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Add one entry and return it; the caller never mutates it afterwards.

        Besides `time` (the stand-in's clock, which a test may move a day forward to age
        keys) every entry carries `wall`, the real time, so runs keep one timeline.
        """
        entry: dict[str, Any] = {"seq": len(self._entries) + 1, "kind": kind, **fields}
        if "wall" not in entry:
            entry["wall"] = time.time()
        self._keep(entry)
        return entry

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a prepared entry (its `kind` set, `seq` a placeholder), numbering it in place."""
        entry["seq"] = len(self._entries) + 1
        entry.setdefault("wall", time.time())
        self._keep(entry)
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def read(self, cursor: int = 0, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """Entries with seq > cursor (at most `limit`) and the cursor to pass next time."""
        start = max(cursor, 0)
        end = len(self._entries) if limit is None else min(len(self._entries), start + limit)
        page = self._entries[start:end]
        return page, (page[-1]["seq"] if page else start)

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        """All entries, or those of one kind."""
        if kind is None:
            return list(self._entries)
        return [e for e in self._entries if e["kind"] == kind]

    def dump(self, path: str | Path) -> int:
        """Write every entry as JSON Lines, atomically (temp file then rename); return the count."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_jsonl(target, self._entries, atomic=True)

    def clear(self) -> None:
        """Forget everything (only `POST /_standin/reset` does this), the journal's lines too."""
        self._entries = []
        if self._journal is not None:
            self._journal.seek(0)
            self._journal.truncate()

    def close(self) -> None:
        """Close the journal (its lines are already written)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
