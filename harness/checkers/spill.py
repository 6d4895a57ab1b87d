"""Rows routed to partitions, written in chunks to one temporary file, read back by partition.

A history op or ledger entry is kept as the line it was read from: writing bytes costs
almost nothing, and the process that judges the partition parses it again, in parallel with
the others, instead of the routing pass marshalling every parsed row. A DB row (parsed from
one JSON document, with no line of its own) is marshalled, which keeps it exactly.
"""

from __future__ import annotations

import marshal
import tempfile
from array import array
from collections.abc import Iterable
from typing import Any

# Rows per chunk: large enough that one write amortises its overhead, small enough that K
# partitions' open buffers stay a few megabytes.
CHUNK_ROWS = 4096

Row = tuple[int, Any]  # (position in its file, payload): the position restores file order
# One chunk as stored: (payload, positions as array("q") bytes). The payload is the lines,
# each ending in one newline, or a marshalled list of rows.
Chunk = tuple[bytes, bytes]


class Spill:
    """Per (partition, kind) chunk lists on disk, so memory holds one partition, not the run.

    `lines` names the kinds whose rows are lines (bytes without a newline inside); the
    others hold JSON-parsed values (dicts, lists, str, numbers, None), which marshal keeps
    exactly.
    """

    def __init__(self, partitions: int, kinds: Iterable[str], lines: Iterable[str] = ()) -> None:
        self.partitions = partitions
        self.lines = frozenset(lines)
        # Owned by the Spill, closed by close() or contextlib.closing (and gone on exit).
        self._file = tempfile.TemporaryFile(prefix="payrace-spill-")  # noqa: SIM115
        keys = [(p, kind) for p in range(partitions) for kind in kinds]
        self._payloads: dict[tuple[int, str], list[Any]] = {key: [] for key in keys}
        self._positions: dict[tuple[int, str], array[int]] = {key: array("q") for key in keys}
        self._chunks: dict[tuple[int, str], list[tuple[int, int, int]]] = {k: [] for k in keys}
        self.rows = 0

    def add(self, partition: int, kind: str, position: int, payload: Any) -> None:
        """One row; a line's payload is its bytes, its newline included or not."""
        key = (partition, kind)
        payloads = self._payloads[key]
        payloads.append(payload)
        self._positions[key].append(position)
        if len(payloads) >= CHUNK_ROWS:
            self._write(key)

    def _write(self, key: tuple[int, str]) -> None:
        chunk = self._pending(key)
        if not chunk[1]:
            return
        offset = self._file.seek(0, 2)
        self._file.write(chunk[0])
        self._file.write(chunk[1])
        self._chunks[key].append((offset, len(chunk[0]), len(chunk[1])))
        self.rows += len(self._payloads[key])
        self._payloads[key] = []
        self._positions[key] = array("q")

    def _pending(self, key: tuple[int, str]) -> Chunk:
        payloads = self._payloads[key]
        if key[1] in self.lines:
            # The file's last line may lack its newline; every stored line ends in one.
            data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in payloads)
        else:
            data = marshal.dumps(payloads)
        return data, self._positions[key].tobytes()

    def chunks(self, partitions: Iterable[int], kind: str) -> list[Chunk]:
        """Every chunk of these partitions and this kind, the ones not written yet included."""
        out: list[Chunk] = []
        for partition in partitions:
            for offset, size, count in self._chunks[(partition, kind)]:
                self._file.seek(offset)
                out.append((self._file.read(size), self._file.read(count)))
            if self._payloads[(partition, kind)]:
                out.append(self._pending((partition, kind)))
        return out

    def close(self) -> None:
        self._file.close()


def unpack(chunks: Iterable[Chunk], lines: bool) -> list[Row]:
    """The rows of `chunks` in file order (by position); a line's payload without its newline."""
    rows: list[Row] = []
    for data, positions in chunks:
        payloads = data.split(b"\n")[:-1] if lines else marshal.loads(data)
        rows.extend(zip(array("q", positions), payloads, strict=True))
    # Each partition's rows are nearly in order already (a deferred invoke is the exception)
    # and Timsort merges runs: this costs little.
    rows.sort(key=_position)
    return rows


def _position(row: Row) -> int:
    return row[0]


__all__ = ["CHUNK_ROWS", "Chunk", "Row", "Spill", "unpack"]
