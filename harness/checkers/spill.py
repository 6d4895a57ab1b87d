"""Rows routed to partitions, marshalled in chunks to one temporary file, read back by partition."""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterable
from typing import Any

# Rows per marshalled chunk: large enough that one marshal call amortises its overhead,
# small enough that K partitions' open buffers stay a few megabytes.
CHUNK_ROWS = 4096

Row = tuple[int, Any]  # (position in its file, payload): the position restores file order


class Spill:
    """Per (partition, kind) chunk lists on disk, so memory holds one partition, not the run.

    Only JSON-parsed values (dicts, lists, str, numbers, None) are stored: marshal keeps
    them exactly and reads them back faster than a second JSON parse would.
    """

    def __init__(self, partitions: int, kinds: Iterable[str]) -> None:
        self.partitions = partitions
        self._kinds = tuple(kinds)
        # Owned by the Spill, closed by close() or its context manager (and gone on exit).
        self._file = tempfile.TemporaryFile(prefix="payrace-spill-")  # noqa: SIM115
        self._buffers: dict[tuple[int, str], list[Row]] = {
            (p, kind): [] for p in range(partitions) for kind in self._kinds
        }
        self._chunks: dict[tuple[int, str], list[tuple[int, int]]] = {
            key: [] for key in self._buffers
        }
        self.rows = 0

    def add(self, partition: int, kind: str, row: Row) -> None:
        buffer = self._buffers[(partition, kind)]
        buffer.append(row)
        if len(buffer) >= CHUNK_ROWS:
            self._write(partition, kind)

    def _write(self, partition: int, kind: str) -> None:
        key = (partition, kind)
        buffer = self._buffers[key]
        if not buffer:
            return
        data = marshal.dumps(buffer)
        offset = self._file.seek(0, 2)
        self._file.write(data)
        self._chunks[key].append((offset, len(data)))
        self.rows += len(buffer)
        self._buffers[key] = []

    def read(self, partitions: Iterable[int], kind: str) -> list[Row]:
        """Every row of these partitions and this kind, in file order (by position)."""
        rows: list[Row] = []
        for partition in partitions:
            for offset, size in self._chunks[(partition, kind)]:
                self._file.seek(offset)
                rows.extend(marshal.loads(self._file.read(size)))
            rows.extend(self._buffers[(partition, kind)])
        # Each partition's rows are nearly in order already (a deferred invoke is the
        # exception) and Timsort merges runs: this costs little.
        rows.sort(key=_position)
        return rows

    def close(self) -> None:
        self._file.close()


def _position(row: Row) -> int:
    return row[0]


__all__ = ["CHUNK_ROWS", "Row", "Spill"]
