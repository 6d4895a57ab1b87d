"""Rows routed to partitions, written in chunks to one temporary file, read back by partition.

Every row is a line of JSON: a history op or ledger entry as the line it was read from, a
DB row as its own bytes in the document (harness.checkers.evidence.read_db_lines). Writing
bytes costs almost nothing, and the process that judges the partition parses them, in
parallel with the others, instead of the routing pass marshalling every parsed row.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NamedTuple

import numpy as np

# Rows per chunk: large enough that one write amortises its overhead, small enough that K
# partitions' open buffers stay a few megabytes.
CHUNK_ROWS = 4096

# One chunk as stored: (payload, positions as array("q") bytes). The payload is the lines,
# each ending in one newline.
Chunk = tuple[bytes, bytes]
Location = tuple[int, int, int]  # a chunk on the file: (offset, payload size, positions size)
Key = tuple[int, str]  # (partition, kind)


class Spill:
    """Per (partition, kind) chunk lists on disk, so memory holds one partition, not the run.

    A row is a line: bytes, or a buffer of them, without a newline inside (a file's line may
    end in its own). Another process may fill it (harness.checkers.side): it writes to the
    same file (`file`, opened on this one's `fileno()`), then hands over its `index`.
    """

    def __init__(self, partitions: int, kinds: Iterable[str],
                 file: IO[bytes] | None = None) -> None:
        self.partitions = partitions
        self.kinds = tuple(kinds)
        self._file = file  # made at the first chunk stored, unless given
        keys = [(p, kind) for p in range(partitions) for kind in self.kinds]
        # Per kind, per partition: the rows not yet written, as (payloads, positions). Looked
        # up by kind then partition, not by a (partition, kind) key: `add` runs for every
        # row of the run, and building and hashing that tuple was a fifth of its time.
        self._buffers: dict[str, list[tuple[list[Any], array[int]]]] = {
            kind: [([], array("q")) for _ in range(partitions)] for kind in self.kinds}
        self._chunks: dict[Key, list[Location]] = {k: [] for k in keys}
        self.rows = 0

    def add(self, partition: int, kind: str, position: int, payload: Any) -> None:
        """One row: a line's bytes, its newline included or not."""
        payloads, positions = self._buffers[kind][partition]
        payloads.append(payload)
        positions.append(position)
        if len(payloads) >= CHUNK_ROWS:
            self._write((partition, kind))

    def _write(self, key: Key) -> None:
        payloads, positions = self._buffers[key[1]][key[0]]
        if not positions:
            return
        self._store(key, self._pending(payloads, positions))
        self.rows += len(payloads)
        payloads.clear()
        del positions[:]

    def flush(self) -> None:
        """Every row still buffered onto the file, so that `index` names them all."""
        for key in self._chunks:
            self._write(key)
        if self._file is not None:
            self._file.flush()

    @property
    def index(self) -> dict[Key, list[Location]]:
        """Where each (partition, kind)'s chunks are on the file: (offset, payload size,
        positions size)."""
        return self._chunks

    def take(self, index: dict[Key, list[Location]]) -> None:
        """The chunks another process wrote to this Spill's file, by its `index`."""
        for key, chunks in index.items():
            self._chunks[key].extend(chunks)

    def fileno(self) -> int:
        """The file's descriptor, for another process to write chunks to."""
        return self._opened().fileno()

    def _opened(self) -> IO[bytes]:
        if self._file is None:
            # Owned by the Spill, closed by close() or contextlib.closing (and gone on exit).
            self._file = tempfile.TemporaryFile(prefix="payrace-spill-")  # noqa: SIM115
        return self._file

    def _store(self, key: Key, chunk: Chunk) -> None:
        file = self._opened()
        offset = file.seek(0, 2)
        file.write(chunk[0])
        file.write(chunk[1])
        self._chunks[key].append((offset, len(chunk[0]), len(chunk[1])))

    def _pending(self, payloads: list[Any], positions: array[int]) -> Chunk:
        data = b"".join(payloads)
        newlines = data.count(b"\n")
        if newlines == 0:  # lines that were never a file's (a DB view's rows)
            data = b"\n".join(payloads) + b"\n"
        elif newlines != len(payloads):
            # The file's last line may lack its newline; every stored line ends in one.
            data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in payloads)
        return data, positions.tobytes()

    def located(self, partitions: Iterable[int], kind: str) -> list[Location]:
        """Where every chunk of these partitions and this kind is on the file, for
        `read_chunks` in any process that has it open; `flush()` first."""
        out: list[Location] = []
        for partition in partitions:
            if self._buffers[kind][partition][1]:
                raise RuntimeError("Spill.located before flush(): rows are still buffered")
            out.extend(self._chunks[(partition, kind)])
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def read_chunks(fd: int, locations: Iterable[Location]) -> Iterator[Chunk]:
    """The chunks at `locations` of the spill file open as `fd` (this process's descriptor of
    it: another process may have written it), one at a time. pread: no shared file offset
    to race on."""
    for offset, size, count in locations:
        data = os.pread(fd, size + count, offset)
        if len(data) != size + count:
            raise OSError(f"The spill file ended {size + count - len(data)} bytes short of a "
                          f"chunk at offset {offset}")
        yield data[:size], data[size:]


class Rows(NamedTuple):
    """Rows read back, in file order: their positions (ascending) and their values."""

    positions: array[int]
    values: list[Any]


def read_rows(sources: Iterable[tuple[int, Iterable[Location]]],
              values: Callable[[bytes], list[Any]]) -> Rows:
    """The rows at each (descriptor, locations) of `sources`, in file order (by position),
    each chunk's payload turned into its rows' values by `values` as it is read (one value
    per row: harness.jsonl.lines_of, or a parser of a chunk of lines such as
    harness.history.read_ops). A chunk at a time, so that a group's raw bytes are never all
    held at once, and a whole chunk is parsed in one call."""
    positions: array[int] = array("q")
    out: list[Any] = []
    for fd, locations in sources:
        for payload, where in read_chunks(fd, locations):
            got = values(payload)
            positions.frombytes(where)
            out.extend(got)
            if len(positions) != len(out):  # a payload and its positions never disagree
                raise ValueError(f"A spilled chunk holds {len(got)} rows for "
                                 f"{len(where) // positions.itemsize} positions")
    return in_file_order(positions, out)


def in_file_order(positions: array[int], values: list[Any]) -> Rows:
    """`values` ordered by their `positions` (each its own), the positions with them.

    The order is computed on the positions alone, by numpy in C, and the values are only
    picked in it: sorting (position, value) tuples in Python was a fifth of reading a group
    back. Each partition's rows are nearly in order (a deferred invoke is the exception); a
    group of one spill file and one partition often is in order, and is left as it is.
    """
    if len(positions) < 2:
        return Rows(positions, values)
    keys = np.frombuffer(positions, dtype=np.int64)
    if bool((keys[1:] > keys[:-1]).all()):
        return Rows(positions, values)
    order = np.argsort(keys, kind="stable")
    return Rows(array("q", keys[order].tobytes()), list(map(values.__getitem__, order.tolist())))


__all__ = ["CHUNK_ROWS", "Chunk", "Key", "Location", "Rows", "Spill", "in_file_order",
           "read_chunks", "read_rows"]
