"""read_db_lines: a DB view's rows as lines, each reading back as read_db reads that row."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.checkers.evidence import read_db, read_db_lines
from harness.checkers.routing import DB, Partitions, route_db
from harness.checkers.spill import Spill
from harness.errors import UsageError
from harness.jsonl import load_document

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(),
                    st.text(max_size=5))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)
ROWS = st.lists(st.one_of(st.fixed_dictionaries({"id": SCALARS, "charge_id": SCALARS},
                                                optional={"x": VALUES}),
                          st.dictionaries(st.text(max_size=4), VALUES, max_size=3)), max_size=6)


def _same(a: Any, b: Any) -> bool:
    """Equal as values, NaN equal to NaN (json.loads reads one)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=150)
@given(ROWS, st.sampled_from([None, 1, 2]), st.booleans(), st.booleans())
@example([{"id": "pay_1", "charge_id": "ch_1", "x": float("nan")}, {}], None, False, False)
@example([{"id": "a\nb", "charge_id": None}], 1, True, True)  # an escaped newline stays one
def test_each_line_reads_back_as_read_db_reads_its_row(
        tmp_path_factory: pytest.TempPathFactory, rows: list[Any], indent: int | None,
        wrapped: bool, crlf: bool) -> None:
    """Compact or indented (with \\r\\n), a list or {"payments": [...]}, NaN and huge numbers
    (json's to read) or not: one line per row, none holding a newline or carriage return,
    each read back by load_document to read_db's row."""
    path = tmp_path_factory.mktemp("db") / "db.json"
    text = json.dumps({"other": 1, "payments": rows} if wrapped else rows, indent=indent)
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())
    lines = read_db_lines(path)
    assert lines is not None
    assert not any(b"\n" in bytes(line) or b"\r" in bytes(line) for line in lines)
    assert _same([load_document(bytes(line)) for line in lines], read_db(path))


@pytest.mark.parametrize("row", [5, None, "pay_1", [1, 2], {"nan": float("nan")}])
def test_a_row_that_is_not_an_object_is_refused_naming_it(tmp_path: Path, row: Any) -> None:
    """A DB view is a list of payment rows, each an object: any other row is refused, by
    read_db and by the routing of a large check alike, in one line naming the row (1-based)
    and what is accepted; an object with NaN in it (json's to read) is a row."""
    path = tmp_path / "db.json"
    path.write_text(json.dumps([{"id": "pay_0"}, row], indent=1))
    if isinstance(row, dict):
        assert read_db(path) is not None
        return
    said = (f"row 2 is {json.dumps(row)}, not a payment row; expected a JSON object per row "
            "(id, status, charge_id, amount, currency)")
    with pytest.raises(UsageError, match=re.escape(said)):
        read_db(path)
    lines = read_db_lines(path)
    assert lines is not None
    spill = Spill(1, (DB,))
    with pytest.raises(UsageError, match=re.escape(said)):
        route_db(path, lines, Partitions(1), spill, {})
    spill.close()


def test_no_file_is_none_and_a_bad_document_is_read_dbs_error(tmp_path: Path) -> None:
    assert read_db_lines(tmp_path / "db.json") is None
    for text, said in (("[{", "is not JSON"), ('{"rows": []}', "got dict"), ("5", "got int"),
                       ('{"payments": 3}', "got dict")):
        (tmp_path / "db.json").write_text(text)
        with pytest.raises(UsageError, match=said):
            read_db_lines(tmp_path / "db.json")
