"""JSON Lines, one way: the line every evidence file is written with, and the one torn-line rule.

The torn-line rule: writers write whole lines and flush each, so a process killed mid-write
can leave only the file's last (non-blank) line cut short. That line is dropped and counted
in `torn_lines`, never fatal. A damaged line before it is not a crash but corruption: the
readers that judge evidence refuse it with a UsageError naming the file and the line; a
reader that must show whatever is there (the HTML report, the fault log) passes
`skip_damaged=True` and counts it in `skipped_lines` instead. Blank lines are ignored.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, overload

import msgspec
import orjson

from harness.errors import UsageError

T = TypeVar("T")
Row = dict[str, Any]

# One encoder, built once: compact, and `default=str` so a stray non-JSON value (a datetime,
# a Decimal) never costs a run its evidence. json.dumps with arguments builds one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
# The parser every evidence line is read with first (msgspec's, in C). Where it takes a line
# it reads what json.loads reads, big integers included; json.loads reads the rest.
_DECODER = msgspec.json.Decoder()
DECODE = _DECODER.decode


def _plain(obj: Any) -> bool:
    """`obj` is made of JSON's own types only, exactly, for which orjson writes the bytes
    `_ENCODER` writes: str keys, no subclasses (an IntEnum, a str subclass), no NaN or
    infinity, and floats where Python's repr uses no exponent (1e-4 ≤ |x| < 1e16, or 0)."""
    t = type(obj)
    if t is str or t is int or t is bool or obj is None:
        return True
    if t is float:
        x: float = obj
        return x == 0.0 or 1e-4 <= abs(x) < 1e16
    if t is dict:
        return all(type(k) is str and _plain(v) for k, v in obj.items())
    if t is list or t is tuple:
        return all(_plain(v) for v in obj)
    return False


def encode_line_bytes(row: Any) -> bytes:
    """One JSON Lines line for `row`, newline included, as UTF-8 bytes.

    Byte for byte what `_ENCODER` writes. orjson writes it about ten times faster, so it
    writes every row it writes identically (a history op, a ledger entry: _plain, and ASCII
    with no DEL, which json escapes and orjson does not); anything else goes through json.
    """
    try:
        out = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) if _plain(row) else b""
    except (orjson.JSONEncodeError, RecursionError):  # an int beyond 64 bits, a cycle: json's
        out = b""
    if out and out.isascii() and b"\x7f" not in out:
        return out
    return (_ENCODER.encode(row) + "\n").encode("utf-8")


def load_document(raw: bytes) -> Any:
    """A whole JSON document (summary.json, db.json) as json.loads reads it, parsed by msgspec
    where it takes it (a 40 MB summary: 0.6 s with json, 0.3 s this way); json's errors
    (json.JSONDecodeError, UnicodeDecodeError) and leniency (NaN, huge integers) otherwise."""
    try:
        return DECODE(raw)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        return json.loads(raw.decode("utf-8"))


def encode_indented(document: Any) -> str:
    """`json.dumps(document, indent=2, default=str)`, byte for byte: by orjson where it writes
    the same (a `_plain` document, ASCII with no DEL), fifty times faster. A ten-million-op
    check's summary.json holds 40 MB of violations: 1.6 s with json, 0.3 s this way."""
    try:
        out = orjson.dumps(document, option=orjson.OPT_INDENT_2) if _plain(document) else b""
    except (orjson.JSONEncodeError, RecursionError):  # an int beyond 64 bits, a cycle: json's
        out = b""
    if out and out.isascii() and b"\x7f" not in out:
        return out.decode("ascii")
    return json.dumps(document, indent=2, default=str)


def encode_line(row: Any) -> str:
    """One JSON Lines line for `row`, newline included."""
    return encode_line_bytes(row).decode("utf-8")


def _as_row(row: Any) -> Any:
    return row.to_dict() if hasattr(row, "to_dict") else row


def write_jsonl(path: str | Path, rows: Iterable[Any], *, atomic: bool = False) -> int:
    """Write rows (dicts, or objects with `to_dict()`) as JSON Lines; return how many.

    `atomic` writes `<name>.tmp` and renames it over `path`, so a reader sees the old file
    or the whole new one, never half of it.
    """
    target = Path(path)
    out = target.with_name(target.name + ".tmp") if atomic else target
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(encode_line(_as_row(row)))
            count += 1
    if atomic:
        os.replace(out, target)
    return count


def append_jsonl(path: str | Path, row: Any) -> None:
    """Append one row as a line (the caller serialises concurrent writers)."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(encode_line(_as_row(row)))


class JsonlRows(list[T]):
    """The rows read from a JSON Lines file, and how many lines were torn or skipped."""

    torn_lines: int = 0
    skipped_lines: int = 0


@overload
def read_jsonl(
    path: str | Path,
    what: str,
    convert: None = None,
    *,
    skip_damaged: bool = False,
    into: JsonlRows[Row] | None = None,
) -> JsonlRows[Row]: ...


@overload
def read_jsonl(
    path: str | Path,
    what: str,
    convert: Callable[[Row], T],
    *,
    skip_damaged: bool = False,
    into: JsonlRows[T] | None = None,
) -> JsonlRows[T]: ...


def read_jsonl(
    path: str | Path,
    what: str,
    convert: Callable[[Row], Any] | None = None,
    *,
    skip_damaged: bool = False,
    into: JsonlRows[Any] | None = None,
) -> JsonlRows[Any]:
    """Read a JSON Lines file of objects under the torn-line rule of this module.

    `what` names one row in messages ("history op"); `convert` turns each object into a row
    and raises ValueError or TypeError for one it rejects, which is then a damaged line.
    Streams the file: a million-line history is never held as text. OSError is the caller's.
    """
    rows: JsonlRows[Any] = into if into is not None else JsonlRows()
    first, counted = len(rows), (rows.torn_lines, rows.skipped_lines)
    # A converter's rows are read line by line; plain objects a clean block at a time first.
    rest = _read_whole_objects(path, rows) if convert is None else (0, 1)
    if rest is None:
        return rows  # every line was read
    byte, number = rest
    try:
        rows.extend(row for _, _, row in scan_jsonl(
            path, what, convert, skip_damaged=skip_damaged, counts=rows,
            span=(byte, None, number) if byte else None))
    except LoneCarriageReturn:  # only a whole-file reading numbers lines as a text reader does
        del rows[first:]
        rows.torn_lines, rows.skipped_lines = counted
        rows.extend(row for _, _, row in scan_jsonl(path, what, convert,
                                                     skip_damaged=skip_damaged, counts=rows))
    return rows


def _read_whole_objects(path: str | Path, rows: list[Any]) -> tuple[int, int] | None:
    """Add the rows of `path`'s lines to `rows` a block at a time while every line of a
    block is one JSON object alone, and return where the line-by-line rule must go on:
    (byte, line number), or None when the whole file was read.

    One msgspec `decode_lines` call per block instead of a parse per line, for the clean
    file every writer leaves: about a tenth less time to read a million-line history. A
    block qualifies when every line ends with `}` and every line after its first starts
    with `{` (JSON never lets `{` follow `}`, so no value runs on from one line to the next,
    and a whole value ending in `}` is an object), it holds no \\r (a text-mode reader's line
    end too) and decode_lines returns one value per line, hence one on each. From the first
    block that does not (a blank or damaged line, a space after an object), and for a last
    line with no newline, scan_jsonl goes on line by line.
    """
    offset, number = 0, 1
    with Path(path).open("rb") as handle:
        rest = b""
        while True:
            data = handle.read(BLOCK)
            if not data:
                return (offset, number) if rest else None
            data = rest + data
            cut = data.rfind(b"\n") + 1
            chunk, rest = data[:cut], data[cut:]
            if not chunk:
                continue
            lines = chunk.count(b"\n")
            if not (chunk.endswith(b"}\n") and b"\r" not in chunk
                    and chunk.count(b"}\n{") == lines - 1):
                return offset, number
            try:
                objects = _DECODER.decode_lines(chunk)
            except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
                return offset, number
            if len(objects) != lines:  # two objects on one line
                return offset, number
            rows.extend(objects)
            offset += len(chunk)
            number += lines


class _Blank:
    """The row of a blank line: every reader ignores it."""


BLANK = _Blank()


def parse_line(line: bytes, convert: Callable[[Row], Any] | None = None) -> Any:
    """One line's row under this module's rule: BLANK for a blank line, ValueError or
    TypeError for a damaged one.

    Parses with msgspec and falls back to the standard library for any line msgspec
    refuses, so a line is damaged exactly when json.loads refuses it too (NaN, Infinity,
    lone surrogates and undecodable bytes parse as before) and the message is the same.
    msgspec reads what json.loads reads wherever it takes a line, integers beyond 64 bits
    included (tests/unit/test_jsonl.py holds it to that). `convert` turns the object into a
    row and raises ValueError or TypeError for one it rejects.
    """
    # Parse first, look at the line only when it fails: a blank line fails too, and checking
    # every line of a million-op history for blankness costs more.
    try:
        data = DECODE(line)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        text = line.decode("utf-8", "replace")
        if text.isspace() or not text:
            return BLANK
        data = json.loads(text)
    if type(data) is not dict:
        raise ValueError("expected a JSON object")
    return data if convert is None else convert(data)


def lines_of(chunk: bytes) -> list[bytes]:
    """A chunk's lines (each ending in a newline), without their newlines."""
    return chunk.split(b"\n")[:-1]


def read_chunk(chunk: bytes, all_at_once: Callable[[bytes], list[Any]],
               one: Callable[[bytes], T], fits: Callable[[list[Any]], bool] | None = None,
               ) -> list[T]:
    """The rows of `chunk`'s lines, each as `one` reads its line: `all_at_once` (a msgspec
    `decode_lines`) when it takes the whole chunk, one row per line (and `fits` them, when
    given), else `one` line by line, whose rule it is. One C call instead of a Python call
    per line: about a fifth less time for a spilled history read back by a judging process.

    The lines must each hold one JSON value, as a pass that read them one by one leaves
    them (harness.checkers.spill): decode_lines itself would take two values on one line,
    or one over two, and only that precondition makes its values the lines' values.
    """
    try:
        rows = all_at_once(chunk)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        rows = None
    if rows is not None and len(rows) == chunk.count(b"\n") and (fits is None or fits(rows)):
        return rows
    return [one(line) for line in lines_of(chunk)]


def parse_lines(lines: bytes) -> list[Any]:
    """The rows of `lines` (see `read_chunk`), each as `parse_line` reads it."""
    return read_chunk(lines, _DECODER.decode_lines, parse_line,
                      lambda rows: all(type(row) is dict for row in rows))


def parse_values(lines: bytes) -> list[Any]:
    """The JSON values of `lines` (see `read_chunk`), of any type, each as `load_document`
    reads it: a DB view's rows, spilled as lines (harness.checkers.evidence.read_db_lines)."""
    return read_chunk(lines, _DECODER.decode_lines, load_document)


def scan_jsonl(
    path: str | Path,
    what: str,
    convert: Callable[[Row], Any] | None = None,
    *,
    skip_damaged: bool = False,
    counts: JsonlRows[Any] | None = None,
    span: tuple[int, int | None, int] | None = None,
    decode: Callable[[bytes], Any] | None = None,
) -> Iterator[tuple[int, bytes, Any]]:
    """read_jsonl one row at a time, for files too large to hold: (line number, the line's
    bytes, its row) for each row, by the same rule; the line is for a reader that keeps it
    (harness.checkers.spill). Each line is read by `parse_line`.

    `span` = (start, end, number): read only the lines from byte `start` (a line's first
    byte) to byte `end` (None: the end of the file), the first being line `number`; several
    processes can read one file in parts this way (harness.checkers.split). A damaged last
    line before `end` is refused (a later part holds lines), and a lone \r raises
    LoneCarriageReturn: only a whole-file reading numbers lines as a text reader does then.

    `decode` (harness.history.decode_op) reads a line straight to its row where it can,
    exactly as `parse_line` and `convert` would, and raises ValueError for any other line,
    which then goes their way.

    Torn and skipped lines are added to `counts` (when given) once the file is read through.
    """
    loads = DECODE
    torn = skipped = 0
    # A damaged line is judged only once a later non-blank line shows it was not the last.
    damaged: tuple[int, Exception] | None = None
    start, end, first = span if span is not None else (0, None, 1)
    cut = False  # stopped at `end`, before the end of the file
    with Path(path).open("rb") as handle:
        handle.seek(start)
        offset = start  # bytes read so far, counted only when there is an `end` to stop at
        for number, line in _numbered_lines(path, handle, first, whole=span is None):
            if end is not None:
                offset += len(line)
                if offset > end:  # this line starts at `end`: the next part's
                    cut = True
                    break
            try:
                if decode is not None:
                    try:
                        row = decode(line)
                    except (ValueError, RecursionError):  # the general way decides
                        row = parse_line(line, convert)
                else:
                    try:  # parse_line's common case inlined: a call per line of ten million
                        data = loads(line)
                    except (ValueError, RecursionError):
                        data = None
                    if type(data) is dict:
                        row = data if convert is None else convert(data)
                    else:
                        row = parse_line(line, convert)
            except (ValueError, TypeError) as exc:
                if damaged is not None:  # damaged, then another line: the first was not last
                    if not skip_damaged:
                        raise _corrupt(path, what, *damaged) from damaged[1]
                    skipped += 1
                damaged = (number, exc)
                continue
            if row is BLANK:
                continue
            if damaged is not None:
                if not skip_damaged:
                    raise _corrupt(path, what, *damaged)
                skipped += 1
                damaged = None
            yield number, line, row
    if damaged is not None:
        if cut:
            raise _corrupt(path, what, *damaged) from damaged[1]
        torn += 1
    if counts is not None:
        counts.torn_lines += torn
        counts.skipped_lines += skipped


# Bytes read at a time by `_numbered_lines`: large enough that one split amortises its call,
# small enough to be nothing beside the rows read.
BLOCK = 1 << 20


def _numbered_lines(path: str | Path, handle: BinaryIO, number: int, *, whole: bool,
                    ) -> Iterator[tuple[int, bytes]]:
    """(number, line) for each line of `handle` from where it is, the first being `number`,
    each line with its newline, numbered and split as a text-mode reader splits them.

    Read a block at a time: one split in C instead of a readline per line, which was a third
    of the time to route a history. A block holding a \r is read line by line from the line
    it is in; a lone \r there (which ends a line for a text reader too) makes the rest of the
    file read in text mode (`_universal`) when the file is read `whole`, or raises
    LoneCarriageReturn when it is read in parts: only a whole-file reading numbers its lines.
    """
    rest = b""  # the start of a line the last block cut
    while True:
        at = handle.tell()
        block = handle.read(BLOCK)
        if not block:
            if rest:
                yield number, rest  # the last line, without a newline
            return
        if b"\r" in block:
            handle.seek(at - len(rest))
            break
        lines = block.splitlines(keepends=True)  # no \r: split at each \n, as iteration is
        if rest:
            lines[0] = rest + lines[0]
        rest = b"" if block.endswith(b"\n") else lines.pop()
        yield from enumerate(lines, number)
        number += len(lines)
    for line in handle:  # rare: a file with a \r in it
        if b"\r" in line and line.find(b"\r") != len(line) - 2:
            if not whole:
                raise LoneCarriageReturn(f"{path} line {number} holds a lone \\r")
            yield from _universal(number, line, handle)
            return
        yield number, line
        number += 1


class LoneCarriageReturn(Exception):
    """A file read in parts holds a lone \\r: read it whole instead."""


def _universal(number: int, first: bytes, rest: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Lines from `first` (line `number`) on, numbered as a text-mode reader numbers them:
    a lone \\r also ends a line."""
    text = io.TextIOWrapper(rest, encoding="utf-8", errors="replace", newline=None)
    for part in itertools.chain(io.StringIO(first.decode("utf-8", "replace"), newline=None),
                                text):
        yield number, part.encode("utf-8")
        number += 1


def _corrupt(path: str | Path, what: str, number: int, exc: Exception) -> UsageError:
    error = UsageError(
        f"{path} line {number} is not a {what} ({exc}); only the last line may be torn"
    )
    error.__cause__ = exc
    return error


__all__ = [
    "BLANK",
    "DECODE",
    "JsonlRows",
    "LoneCarriageReturn",
    "append_jsonl",
    "encode_indented",
    "encode_line",
    "encode_line_bytes",
    "lines_of",
    "load_document",
    "parse_line",
    "parse_lines",
    "parse_values",
    "read_chunk",
    "read_jsonl",
    "scan_jsonl",
    "write_jsonl",
]
