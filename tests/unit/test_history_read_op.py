"""read_op: a history line's Op, the fast way exactly what the general way reads."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.history import Op, decode_op, read_op, read_ops
from harness.jsonl import encode_line_bytes

_CONTRACT = {"index": 3, "time": 0.25, "wall": 1.7e9, "process": "w1", "type": "ok",
             "f": "charge", "payment_id": "pay_1", "idempotency_key": "k1",
             "value": {"status": "completed", "amount": 1000}, "error": None}


def _general(line: bytes) -> tuple[str, Any]:
    """Op.from_dict over what json.loads reads: the rule read_op must keep."""
    try:
        data = json.loads(line.decode("utf-8", "replace"))
        if type(data) is not dict:
            raise ValueError("expected a JSON object")
        return "op", repr(Op.from_dict(data))
    except (ValueError, TypeError):
        return "refused", None


def _fast(line: bytes) -> tuple[str, Any]:
    try:
        return "op", repr(read_op(line))
    except (ValueError, TypeError):
        return "refused", None


_ANY = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63)
        | st.integers(max_value=-(2**63)) | st.floats() | st.text(max_size=4)
        | st.lists(st.integers(), max_size=2)
        | st.dictionaries(st.text(max_size=3), st.integers() | st.floats() | st.none(),
                          max_size=3))
_DICT = st.dictionaries(st.text(max_size=3), st.integers() | st.floats() | st.text(max_size=2)
                        | st.none() | st.integers(min_value=2**64), max_size=3)
# Per field: values of the contract's type and its edges, then anything at all.
_FIELDS = {
    "index": (st.integers(min_value=-3, max_value=9) | st.integers(min_value=0, max_value=2**65),
              _ANY),
    "time": (st.floats() | st.integers(min_value=-(2**70), max_value=2**70), _ANY),
    "wall": (st.floats() | st.integers(), _ANY),
    "process": (st.text(max_size=4), _ANY),
    "type": (st.sampled_from(["invoke", "ok", "fail", "info"]), st.sampled_from(["OK", ""]) | _ANY),
    "f": (st.sampled_from(["create", "charge", ""]), _ANY),
    "payment_id": (st.none() | st.text(max_size=4), _ANY),
    "idempotency_key": (st.none() | st.text(max_size=4), _ANY),
    "value": (st.none() | _DICT, _ANY),
    "error": (st.none() | _DICT, _ANY),
}


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    """An op line: each field mostly present and of its type, now and then missing or of any
    other; extra keys; a key written twice; NaN and huge numbers."""
    row: dict[str, Any] = {}
    for name, (typed, wild) in _FIELDS.items():
        roll = draw(st.integers(0, 29))
        if roll:  # mostly present
            row[name] = draw(typed if roll > 1 else wild)
    text = json.dumps(row, allow_nan=True)
    if draw(st.integers(0, 4)) == 0 and row:  # a key twice: json and msgspec keep the last
        name = draw(st.sampled_from(sorted(row)))
        text = text[:-1] + f', "{name}": {json.dumps(draw(_ANY))}' + "}"
    if draw(st.booleans()):
        text = text[:-1] + (', ' if row else '') + '"extra": [1, {"x": null}]}'
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=400)
@given(line=_lines())
def test_read_op_is_from_dict_of_what_json_reads(line: bytes) -> None:
    """Whichever way read_op takes, its op (or its refusal) is the general rule's."""
    assert _fast(line) == _general(line)


@pytest.mark.parametrize("line", [
    encode_line_bytes(_CONTRACT),
    encode_line_bytes({**_CONTRACT, "type": "invoke", "value": None, "payment_id": None}),
    encode_line_bytes({**_CONTRACT, "time": 3, "index": 2**64}),  # an int time, a huge index
])
def test_a_line_of_the_contract_takes_the_fast_way(line: bytes) -> None:
    """What payrace's recorder writes is read in C, with no dict built first."""
    assert repr(decode_op(line)) == _general(line)[1]


@pytest.mark.parametrize("line", [
    b'{"index":1,"time":0.5,"process":"w","type":"ok","f":"charge"}',      # no wall: 0.0
    b'{"index":1,"time":"0.5","wall":1,"process":7,"type":"ok","f":"charge"}',  # str(), float()
    b'{"index":1,"time":NaN,"wall":1,"process":"w","type":"ok","f":"charge"}',
    b'{"index":1,"time":0,"wall":1,"process":"w","type":"ok","f":"c","payment_id":5}',
])
def test_a_line_the_fast_way_does_not_take_goes_the_general_way(line: bytes) -> None:
    """Not the contract's types, yet an op by Op.from_dict's rule: read, not refused."""
    with pytest.raises(msgspec.DecodeError):
        decode_op(line)
    assert _fast(line) == _general(line) and _fast(line)[0] == "op"


@pytest.mark.parametrize("line", [
    b'{"index":-1,"time":0,"wall":0,"process":"w","type":"ok","f":"c"}',
    b'{"index":true,"time":0,"wall":0,"process":"w","type":"ok","f":"c"}',
    b'{"index":1,"time":0,"wall":0,"process":"w","type":"done","f":"c"}',
    b'{"index":1,"time":0,"wall":0,"process":"w","type":"ok","f":"c","value":[]}',
    b'{"index":1,"time":0,"wall":0,"process":"w","type":"ok"}',
    b'{"index":1,"time":0,',
    b'[1, 2]',
    b'',
])
def test_a_damaged_line_or_a_wrong_op_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        read_op(line)


def test_an_op_is_frozen_and_pickles() -> None:
    """Ops are shared between checkers and sent between processes: none may change one."""
    import pickle

    op = read_op(encode_line_bytes(_CONTRACT))
    assert op == Op(**_CONTRACT) and op.to_dict() == _CONTRACT
    assert pickle.loads(pickle.dumps(op)) == op
    with pytest.raises(AttributeError):
        op.index = 4  # type: ignore[misc]


@settings(max_examples=200)
@given(lines=st.lists(_lines(), max_size=12), crlf=st.booleans())
def test_a_chunk_of_lines_reads_as_read_op_reads_each(lines: list[bytes], crlf: bool) -> None:
    """read_ops over lines a routing pass took one by one (each an op by read_op's rule, of
    any shape: some take the fast way, some the general one) is read_op of each, in order."""
    taken = [line for line in lines if _fast(line)[0] == "op"]
    chunk = b"".join(line + (b"\r\n" if crlf else b"\n") for line in taken)
    assert [repr(op) for op in read_ops(chunk)] == [repr(read_op(line)) for line in taken]


def test_a_chunk_holding_a_line_that_is_no_op_is_refused_as_that_line_is() -> None:
    good = encode_line_bytes(_CONTRACT)
    negative = b'{"index":-1,"time":0,"wall":0,"process":"w","type":"ok","f":"c"}'
    with pytest.raises(ValueError):
        read_ops(good + b"\n" + negative + b"\n")
    assert read_ops(b"") == []
