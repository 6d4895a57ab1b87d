"""JSON Lines: one compact encoding, and the one torn-line rule every evidence reader follows."""

from __future__ import annotations

import enum
import io
import json
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import jsonl
from harness.errors import UsageError
from harness.jsonl import (
    append_jsonl,
    encode_indented,
    encode_line,
    encode_line_bytes,
    parse_line,
    parse_lines,
    read_jsonl,
    scan_jsonl,
    write_jsonl,
)


@dataclass
class _Row:
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n}


def test_rows_round_trip_compact_and_objects_by_their_to_dict(tmp_path: Path) -> None:
    """Dicts and objects with to_dict() are written one compact line each and read back equal."""
    path = tmp_path / "rows.jsonl"
    assert write_jsonl(path, [{"a": 1, "b": [1, 2]}, _Row(7), {"s": "é"}]) == 3
    assert path.read_text().splitlines()[:2] == ['{"a":1,"b":[1,2]}', '{"n":7}']
    rows = read_jsonl(path, "row")
    assert rows == [{"a": 1, "b": [1, 2]}, {"n": 7}, {"s": "é"}]
    assert (rows.torn_lines, rows.skipped_lines) == (0, 0)


def test_a_stray_value_is_written_as_its_string_not_lost() -> None:
    """default=str: a value JSON cannot hold must not cost a run its evidence."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert encode_line({"at": moment, "n": 1}) == '{"at":"2026-01-02 03:04:05+00:00","n":1}\n'


def test_a_torn_last_line_is_dropped_and_counted_not_fatal(tmp_path: Path) -> None:
    """A killed writer leaves half a line at the end: dropped and counted, even before blanks."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a":1}\n{"a":2}\n{"a":')
    rows = read_jsonl(path, "row")
    assert rows == [{"a": 1}, {"a": 2}]
    assert (rows.torn_lines, rows.skipped_lines) == (1, 0)
    path.write_text('{"a":1}\n{"a":\n\n  \n')
    rows = read_jsonl(path, "row")
    assert rows == [{"a": 1}] and rows.torn_lines == 1


def test_a_damaged_middle_line_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    """Damage before the last line is corruption, not a crash: one UsageError saying where."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a":1}\n\nnot json\n{"a":2}\n')
    with pytest.raises(UsageError, match=rf"{path} line 3 is not a ledger entry .*torn"):
        read_jsonl(path, "ledger entry")
    path.write_text('{"a":1}\n[1, 2]\n{"a":2}\n')
    with pytest.raises(UsageError, match=r"line 2 is not a row \(expected a JSON object\)"):
        read_jsonl(path, "row")


def test_a_reader_that_shows_what_is_there_skips_and_counts_damage(tmp_path: Path) -> None:
    """skip_damaged: damaged middle lines are counted apart from the torn last one."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a":1}\nnot json\n"a string"\n{"a":2}\n{"a"')
    rows = read_jsonl(path, "row", skip_damaged=True)
    assert rows == [{"a": 1}, {"a": 2}]
    assert (rows.torn_lines, rows.skipped_lines) == (1, 2)


def test_a_row_the_converter_rejects_is_a_damaged_line(tmp_path: Path) -> None:
    """convert's ValueError makes the line damaged: torn when last, refused before that."""

    def positive(data: dict[str, Any]) -> int:
        if data["a"] <= 0:
            raise ValueError(f"a={data['a']!r}, expected > 0")
        return int(data["a"])

    path = tmp_path / "rows.jsonl"
    path.write_text('{"a":1}\n{"a":2}\n{"a":0}\n')
    rows = read_jsonl(path, "row", positive)
    assert rows == [1, 2] and rows.torn_lines == 1
    path.write_text('{"a":1}\n{"a":-1}\n{"a":2}\n')
    with pytest.raises(UsageError, match=r"line 2 is not a row \(a=-1, expected > 0\)"):
        read_jsonl(path, "row", positive)


def test_an_empty_or_blank_file_holds_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("")
    assert read_jsonl(path, "row") == [] and read_jsonl(path, "row").torn_lines == 0
    path.write_text("\n \n")
    assert read_jsonl(path, "row") == [] and read_jsonl(path, "row").torn_lines == 0


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("old\n")
    assert write_jsonl(path, [{"a": 1}], atomic=True) == 1
    assert path.read_text() == '{"a":1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_appends_from_many_threads_stay_whole_lines(tmp_path: Path) -> None:
    """append_jsonl adds one line per call; under the caller's lock no line interleaves."""
    path = tmp_path / "faults.jsonl"
    lock = threading.Lock()

    def note(n: int) -> None:
        for i in range(50):
            with lock:
                append_jsonl(path, {"writer": n, "i": i, "pad": "x" * 200})

    threads = [threading.Thread(target=note, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_jsonl(path, "fault")
    assert len(rows) == 200 and rows.torn_lines == 0


def test_lines_are_numbered_and_split_as_a_text_reader_splits_them(tmp_path: Path) -> None:
    """\\r\\n ends one line; a lone \\r ends a line too, so a damaged line is named by the number
    a text editor shows, and rows after it still read."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a":1}\r\n{"a":2}\r{"a":3}\n{"a":4}\n')
    assert read_jsonl(path, "row") == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]
    path.write_bytes(b'{"a":1}\r{"a":\r{"a":3}\n')
    with pytest.raises(UsageError, match=r"line 2 is not a row"):
        read_jsonl(path, "row")


def test_what_the_standard_library_reads_is_read_alike(tmp_path: Path) -> None:
    """Lines the fast parser refuses (NaN, a lone surrogate, bad UTF-8) read as json.loads
    reads them, and a refused line's message is json's."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a":NaN}\n{"s":"\\ud800"}\n{"b":"\xff"}\n')
    rows = read_jsonl(path, "row")
    assert rows[1:] == [{"s": "\ud800"}, {"b": "\ufffd"}] and rows[0]["a"] != rows[0]["a"]
    path.write_bytes(b'{"a":1}\n{"a":\n{"a":2}\n')
    with pytest.raises(UsageError, match=r"line 2 is not a row \(Expecting value: line 2 col"):
        read_jsonl(path, "row")


class _Level(enum.IntEnum):
    HIGH = 2


class _Tag(str):
    pass


_JSON = json.JSONEncoder(separators=(",", ":"), default=str)
_OP = {"index": 7, "time": 0.7034993439956452, "wall": 1796292554.815715, "process": "10340-u1",
       "type": "ok", "f": "charge", "payment_id": "pay_2777_12", "idempotency_key": None,
       "value": {"id": "pay_2777_12", "status": "completed", "charge_id": "ch_afad74"},
       "error": None}


_ROWS = [
    _OP,
    {**_OP, "time": 0.0, "value": {"amount": 1000, "ok": True, "list": [1, [2.5, None]]}},
    {"seq": 3, "kind": "charge", "time": -0.0, "params": ("a", 1)},
    {"customer": "José", "note": "\u2028"},             # non-ASCII: json escapes it
    {"text": "a\x7fb\x00\n\"\\/"},                    # DEL and control characters
    {"t": 5.783607805179446e-05, "big": 1e16, "tiny": 1e-300},  # floats json writes with e
    {"nan": math.nan, "inf": -math.inf},                # json's NaN and -Infinity
    {"n": 2**70, "m": -(2**63)},                        # beyond 64 bits, and its edge
    {"level": _Level.HIGH, "tag": _Tag("x"), "at": datetime(2026, 1, 2, tzinfo=UTC)},
    {1: "int key", "nested": {"k": {2.5: "float key"}}},
    {"empty": [], "none": {}, "deep": [[{}], {"a": []}]},
]


@pytest.mark.parametrize("row", _ROWS)
def test_every_line_is_byte_for_byte_what_json_writes(row: dict[Any, Any]) -> None:
    """The fast writer (orjson) never changes a byte of the evidence: whatever the row holds, the
    line is what json.JSONEncoder(separators=(",", ":"), default=str) writes."""
    expected = _JSON.encode(row) + "\n"
    assert encode_line_bytes(row) == expected.encode("utf-8")
    assert encode_line(row) == expected


@pytest.mark.parametrize("document", [*_ROWS, [_OP, [], {}], "text", 3, None])
def test_an_indented_document_is_byte_for_byte_what_json_writes(document: Any) -> None:
    """summary.json is written fast (orjson) as json.dumps(indent=2, default=str) writes it."""
    assert encode_indented(document) == json.dumps(document, indent=2, default=str)


def test_a_line_the_fast_parser_cannot_read_is_read_as_json_reads_it(tmp_path: Path) -> None:
    """NaN, an int beyond 64 bits and a lone surrogate escape are JSON to json.loads: read alike,
    of the same types (a huge int stays an int)."""
    path = tmp_path / "rows.jsonl"
    lines = ['{"a":NaN}', '{"a":184467440737095516161}', '{"a":"\\ud800"}', '{"a":1,"a":2}',
             '{"a":-9223372036854775809,"b":[18446744073709551616]}', '{"a":1e400}']
    path.write_text("\n".join(lines) + "\n")
    rows = read_jsonl(path, "row")
    expected = [json.loads(line) for line in lines]
    assert math.isnan(rows[0]["a"]) and repr(rows[1:]) == repr(expected[1:])


_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**60)
            | st.integers(max_value=-(2**60)) | st.floats() | st.text())
_JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12)


@given(row=st.dictionaries(st.text(max_size=8), _JSON_VALUES, max_size=6),
       allow_nan=st.booleans(), ascii=st.booleans())
def test_every_line_reads_as_json_loads_reads_it(row: dict[str, Any], allow_nan: bool,
                                                 ascii: bool) -> None:
    """The one rule of this module: a line reads as json.loads reads it (values and their
    types, NaN and huge integers included) or is refused as json refuses it."""
    try:
        text = json.dumps(row, allow_nan=allow_nan, ensure_ascii=ascii)
    except ValueError:  # NaN with allow_nan=False: not a line anyone writes
        return
    line = text.encode("utf-8", "surrogatepass")
    try:
        expected: Any = ("row", repr(json.loads(line.decode("utf-8", "replace"))))
    except ValueError as exc:
        expected = ("refused", str(exc))
    try:
        got: Any = ("row", repr(parse_line(line)))
    except ValueError as exc:
        got = ("refused", str(exc))
    assert got == expected


@settings(max_examples=200)
@given(rows=st.lists(st.dictionaries(st.sampled_from("abc"), st.integers() | st.text(max_size=3),
                                     max_size=2), max_size=12),
       endings=st.lists(st.sampled_from(["\n", "\n", "\r\n", "\r", "\n\n"]), min_size=12,
                        max_size=12),
       last_newline=st.booleans(), block=st.integers(min_value=1, max_value=40))
def test_lines_read_in_blocks_are_the_lines_a_text_reader_sees(
        tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]],
        endings: list[str], last_newline: bool, block: int) -> None:
    """Whatever the block size, every line is read once, whole, numbered as a text editor
    numbers it: across block ends, with \\r\\n, and with a lone \\r (a line end for a text
    reader) in any block."""
    text = "".join(json.dumps(row) + end for row, end in zip(rows, endings, strict=False))
    if not last_newline:
        text = text.rstrip("\r\n")
    path = tmp_path_factory.mktemp("lines") / "rows.jsonl"
    path.write_bytes(text.encode("utf-8"))
    expected = [(number, json.loads(line))
                for number, line in enumerate(io.StringIO(text, newline=None), 1)
                if line.strip()]
    with patch.object(jsonl, "BLOCK", block):
        got = [(number, row) for number, _, row in scan_jsonl(path, "row")]
    assert got == expected


@settings(max_examples=200)
@given(rows=st.lists(st.dictionaries(st.text(max_size=8), _JSON_VALUES, max_size=4), max_size=8),
       allow_nan=st.booleans())
def test_a_chunk_of_lines_parses_as_each_line_parses(rows: list[dict[str, Any]],
                                                     allow_nan: bool) -> None:
    """parse_lines over lines a pass took one by one is parse_line of each, whether msgspec
    takes the whole chunk or one line of it sends it line by line (NaN, a lone surrogate)."""
    try:
        lines = [json.dumps(row, allow_nan=allow_nan).encode("utf-8", "surrogatepass")
                 for row in rows]
    except ValueError:  # NaN with allow_nan=False: not a line anyone writes
        return
    taken = []
    for line in lines:
        try:
            parse_line(line)
        except ValueError:
            continue
        taken.append(line)
    chunk = b"".join(line + b"\n" for line in taken)
    assert repr(parse_lines(chunk)) == repr([parse_line(line) for line in taken])


def test_a_chunk_holding_a_line_that_is_no_object_is_refused_as_that_line_is() -> None:
    with pytest.raises(ValueError):
        parse_lines(b'{"a":1}\n[1]\n')


# Lines a writer leaves and lines that test the whole-block reading's guard: a clean object,
# objects with spaces or a \r around them, two on one line, one over two lines (which with two
# on one line makes as many objects as lines), a lone \r between tokens (a line end for a
# text reader), a blank, a line that is not an object, a damaged one, NaN (msgspec refuses
# it, json.loads reads it).
_LINE_SHAPES = st.sampled_from([
    '{"a":1}', '{"b":[1,{"c":2}]}', ' {"a":1}', '{"a":1} ', '{"a":1}{"b":2}', '{"a":1},{"b":2}',
    '{"a":[1,', '2]}', '{"a":{}', '{"b":1}}', '', '  ', '[1]', '{"a":', '{"n":NaN}', '{"r":"\\r"}',
    '{"a":1}\r', '{"é":"ü"}', '{"a":[1,\n2]}', '{"a":\n1}', '{"a":1,\r"b":2}',
    '{"a":1}\r{"b":2}',
])


def _line_by_line(path: Path, skip_damaged: bool) -> tuple[Any, ...]:
    """The rows, counts or refusal of the line-by-line rule alone (scan_jsonl)."""
    counts: jsonl.JsonlRows[Any] = jsonl.JsonlRows()
    try:
        rows = [row for _, _, row in scan_jsonl(path, "row", skip_damaged=skip_damaged,
                                                counts=counts)]
    except UsageError as exc:
        return ("refused", str(exc))
    return (repr(rows), counts.torn_lines, counts.skipped_lines)


@settings(max_examples=500)
@given(lines=st.lists(_LINE_SHAPES, max_size=10), last_newline=st.booleans(),
       block=st.integers(min_value=1, max_value=60), skip_damaged=st.booleans())
def test_reading_whole_blocks_reads_what_the_line_by_line_rule_reads(
        tmp_path_factory: pytest.TempPathFactory, lines: list[str], last_newline: bool,
        block: int, skip_damaged: bool) -> None:
    """read_jsonl takes a block of clean object lines in one call: its rows, torn and skipped
    counts and refusals are the line-by-line rule's for any file, at any block size."""
    text = "\n".join(lines) + ("\n" if last_newline and lines else "")
    path = tmp_path_factory.mktemp("blocks") / "rows.jsonl"
    path.write_bytes(text.encode("utf-8"))
    with patch.object(jsonl, "BLOCK", block):
        try:
            rows = read_jsonl(path, "row", skip_damaged=skip_damaged)
            got: tuple[Any, ...] = (repr(list(rows)), rows.torn_lines, rows.skipped_lines)
        except UsageError as exc:
            got = ("refused", str(exc))
        assert got == _line_by_line(path, skip_damaged)


def test_a_clean_file_is_read_a_block_at_a_time(tmp_path: Path) -> None:
    """The whole-block reading is what reads a clean file: no line goes through parse_line."""
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"n": n, "v": {"x": [n]}} for n in range(1000)])
    with patch.object(jsonl, "BLOCK", 4096), patch.object(jsonl, "DECODE", None):
        rows = read_jsonl(path, "row")  # DECODE is the line-by-line rule's parser
    assert rows == [{"n": n, "v": {"x": [n]}} for n in range(1000)]


def test_rows_read_into_a_list_are_added_after_what_it_held(tmp_path: Path) -> None:
    """read_jsonl(into=...) adds a second part's rows and counts after the first's, as a
    merged history's parts are read, a lone \\r (read again whole) included."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b'{"n":1}\n{"n":2')
    second.write_bytes(b'{"n":3}\n{"n":4}\r{"n":5}\n')
    rows = read_jsonl(first, "row", skip_damaged=True)
    with patch.object(jsonl, "BLOCK", 8):
        read_jsonl(second, "row", skip_damaged=True, into=rows)
    assert (rows, rows.torn_lines, rows.skipped_lines) == ([{"n": 1}, {"n": 3}, {"n": 4},
                                                          {"n": 5}], 1, 0)


@given(document=_JSON_VALUES)
def test_any_indented_document_is_what_json_writes(document: Any) -> None:
    assert encode_indented(document) == json.dumps(document, indent=2, default=str)
