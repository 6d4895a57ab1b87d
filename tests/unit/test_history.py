"""The history: ops, the crash-safe recorder under threads, loading, pairing, the outcome law."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from harness.errors import UsageError
from harness.history import (
    HistoryRecorder,
    Op,
    classify_charge,
    classify_exception,
    classify_response,
    load_history,
    merge_histories,
    pair_operations,
)


class ReadTimeoutError(Exception):
    """Like urllib3's: a timeout that is not a TimeoutError subclass, recognised by its name."""


class FakeClock:
    """A clock the test moves by hand, so recorded times are exact."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_recorder_writes_contract_lines_and_flushes_each(tmp_path: Path) -> None:
    """Each op is on disk as soon as it is recorded, with the contract's keys and values."""
    clock = FakeClock(100.0)
    path = tmp_path / "history.jsonl"
    rec = HistoryRecorder(path, clock=clock, wall_clock=lambda: 1764190000.5)
    clock.now = 100.25
    inv = rec.invoke("w0", "charge", payment_id="pay_1", idempotency_key="k1")
    # Read while the recorder is still open: a run that dies now keeps this line.
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {
        "index": 0,
        "time": 0.25,
        "wall": 1764190000.5,
        "process": "w0",
        "type": "invoke",
        "f": "charge",
        "payment_id": "pay_1",
        "idempotency_key": "k1",
        "value": None,
        "error": None,
    }
    clock.now = 101.0
    done = rec.complete(
        inv, "ok", value={"id": "pay_1", "status": "completed", "charge_id": "ch_1"}
    )
    assert (done.index, done.time, done.process, done.f, done.payment_id) == (
        1,
        1.0,
        "w0",
        "charge",
        "pay_1",
    )
    assert done.idempotency_key == "k1"
    assert rec.open_operations() == []
    rec.close()
    assert [op.to_dict() for op in load_history(path)] == [op.to_dict() for op in rec.ops()]


def test_recorder_tracks_open_invokes(tmp_path: Path) -> None:
    """An invoke without its completion is reported open; completing it closes it."""
    with HistoryRecorder(tmp_path / "h.jsonl") as rec:
        a = rec.invoke("w0", "create")
        b = rec.invoke("w1", "charge", payment_id="pay_1")
        rec.complete(a, "ok", value={"id": "pay_1"})
        assert [op.index for op in rec.open_operations()] == [b.index]


def test_recorder_rejects_bad_types_and_use_after_close(tmp_path: Path) -> None:
    """Wrong type, wrong function, completing a completion and recording after close are refused."""
    rec = HistoryRecorder(tmp_path / "h.jsonl")
    with pytest.raises(ValueError, match="type='done'"):
        rec.record("w0", "done", "charge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="f='refund'"):
        rec.invoke("w0", "refund")
    inv = rec.invoke("w0", "charge", payment_id="pay_1")
    ok = rec.complete(inv, "ok")
    with pytest.raises(ValueError, match="needs the invoke op"):
        rec.complete(ok, "ok")
    rec.close()
    with pytest.raises(ValueError, match="closed"):
        rec.invoke("w0", "read")


def test_recorder_under_many_threads_keeps_lines_whole_and_indices_ordered(tmp_path: Path) -> None:
    """16 threads × 250 operations: every line is valid JSON, indices are 0..n-1 in file order."""
    path = tmp_path / "history.jsonl"
    rec = HistoryRecorder(path)
    threads_n, per_thread = 16, 250
    barrier = threading.Barrier(threads_n)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            inv = rec.invoke(f"w{n}", "charge", payment_id=f"pay_{n}_{i}", value={"pad": "x" * 200})
            rec.complete(inv, "info", error={"kind": "timeout", "status": None, "message": "t"})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    lines = path.read_text().splitlines()
    assert len(lines) == threads_n * per_thread * 2
    parsed = [json.loads(line) for line in lines]
    assert [d["index"] for d in parsed] == list(range(len(lines)))
    times = [d["time"] for d in parsed]
    assert times == sorted(times)
    history = load_history(path)
    pairing = pair_operations(history)
    assert pairing.orphans == []
    assert len(pairing.operations) == threads_n * per_thread
    assert all(
        o.completion is not None and o.payment_id == o.completion.payment_id
        for o in pairing.operations
    )


def test_recorder_works_from_gevent_greenlets(tmp_path: Path) -> None:
    """Greenlets (as Locust runs users) record through the same lock without deadlock or loss."""
    import gevent

    path = tmp_path / "history.jsonl"
    rec = HistoryRecorder(path)

    def user(n: int) -> None:
        for i in range(50):
            inv = rec.invoke(f"g{n}", "read", payment_id=f"pay_{i}")
            gevent.sleep(0)  # yield between invoke and completion, as a real request would
            rec.complete(inv, "ok", value={"status": "pending"})

    gevent.joinall([gevent.spawn(user, n) for n in range(20)], timeout=30, raise_error=True)
    rec.close()
    history = load_history(path)
    assert [op.index for op in history] == list(range(2000))
    assert len(pair_operations(history).operations) == 1000


def test_load_ignores_and_counts_a_torn_last_line(tmp_path: Path) -> None:
    """A run killed mid-write leaves half a line at the end: dropped and counted, not fatal."""
    path = tmp_path / "history.jsonl"
    with HistoryRecorder(path) as rec:
        inv = rec.invoke("w0", "charge", payment_id="pay_1")
        rec.complete(inv, "ok", value={"status": "completed", "charge_id": "ch_1"})
    with path.open("a") as f:
        f.write('{"index": 2, "time": 0.5, "wall": 1.0, "process": "w1", "ty')
    history = load_history(path)
    assert [op.index for op in history] == [0, 1]
    assert history.torn_lines == 1
    assert load_history(path).torn_lines == 1
    intact = tmp_path / "intact.jsonl"
    intact.write_text(path.read_text().splitlines()[0] + "\n")
    assert load_history(intact).torn_lines == 0


def test_load_refuses_a_corrupt_middle_line_naming_it(tmp_path: Path) -> None:
    """Garbage before the last line is corruption: one clear UsageError naming the line."""
    path = tmp_path / "history.jsonl"
    good = json.dumps(Op(0, 0.0, 1.0, "w0", "invoke", "create").to_dict())
    path.write_text(good + "\n" + "not json\n" + good.replace('"index": 0', '"index": 2') + "\n")
    with pytest.raises(UsageError, match=r"line 2 is not a history op"):
        load_history(path)
    path.write_text(good.replace('"invoke"', '"maybe"') + "\n" + good + "\n")
    with pytest.raises(UsageError, match=r"line 1 .*type='maybe'"):
        load_history(path)
    with pytest.raises(UsageError, match="Cannot read the history file"):
        load_history(tmp_path / "missing.jsonl")


def test_pairing_leaves_unfinished_invokes_open_as_info() -> None:
    """An invoke with no completion, or superseded by a new invoke of its process, is info."""
    history = [
        Op(0, 0.0, 0.0, "w0", "invoke", "charge", "pay_1"),
        Op(1, 0.1, 0.0, "w1", "invoke", "charge", "pay_2"),
        Op(2, 0.2, 0.0, "w1", "ok", "charge", "pay_2", value={"status": "completed"}),
        Op(3, 0.3, 0.0, "w2", "invoke", "charge", "pay_3"),
        Op(4, 0.4, 0.0, "w2", "invoke", "read", "pay_3"),  # w2 gave up on op 3 without a word
        Op(5, 0.5, 0.0, "w2", "fail", "read", "pay_3"),
        Op(6, 0.6, 0.0, "w9", "ok", "charge", "pay_9"),  # completion with no invoke
    ]
    ops, orphans = pair_operations(history)
    assert [
        (o.invoke.index, o.completion.index if o.completion else None, o.type) for o in ops
    ] == [
        (0, None, "info"),
        (1, 2, "ok"),
        (3, None, "info"),
        (4, 5, "fail"),
    ]
    assert ops[0].is_open and ops[0].end == float("inf")
    assert ops[1].end == 0.2 and ops[1].start == 0.1 and ops[1].ops() == history[1:3]
    assert [o.index for o in orphans] == [6]


def test_charge_outcomes_follow_the_law() -> None:
    """200 completed → ok; 402 and 409 → fail; 202, 5xx, odd statuses and bodies → info."""
    assert classify_charge(200, {"id": "pay_1", "status": "completed", "charge_id": "ch_1"}) == (
        "ok",
        {"id": "pay_1", "status": "completed", "charge_id": "ch_1"},
        None,
    )
    assert classify_charge(402, {"error": {"code": "card_declined"}}).type == "fail"
    assert classify_charge(402).error == {
        "kind": "declined",
        "status": 402,
        "message": "402 declined",
    }
    assert classify_charge(409).type == "fail"
    assert classify_charge(202, {"status": "processing"}).type == "info"
    assert classify_charge(202, {"status": "processing"}).error["kind"] == "processing"  # type: ignore[index]
    five = classify_charge(
        503,
        {
            "error": {
                "code": "provider_error",
                "provider_code": "api_error",
                "correlation_id": "req_9",
            }
        },
    )
    assert five == (
        "info",
        five.value,
        {
            "kind": "server_error",
            "status": 503,
            "message": "503 server error",
            "code": "provider_error",
            "provider_code": "api_error",
            "correlation_id": "req_9",
        },
    )
    assert classify_charge(200, {"status": "pending"}).type == "info"
    assert classify_charge(404).error["kind"] == "unexpected_status"  # type: ignore[index]
    with pytest.raises(ValueError, match="neither"):
        classify_charge()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError("read timed out"), "timeout"),
        (ReadTimeoutError("pool timed out"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (ConnectionResetError(104, "reset by peer"), "reset"),
        (httpx.RemoteProtocolError("server disconnected"), "reset"),
        (httpx.ConnectError("refused"), "connection"),
        (KeyError("boom"), "exception"),
    ],
)
def test_exceptions_are_info_with_their_kind(exc: BaseException, kind: str) -> None:
    """Any exception means "unknown", never fail; its kind says which sort of unknown."""
    for outcome in (
        classify_exception(exc),
        classify_charge(exc=exc),
        classify_response("read", exc=exc),
    ):
        assert outcome.type == "info"
        assert outcome.error is not None and outcome.error["kind"] == kind
        assert outcome.error["message"].startswith(type(exc).__name__)


def test_other_functions_classify_2xx_ok_4xx_fail_5xx_info() -> None:
    """create/read change no money: a 4xx certainly did nothing, a 5xx is unknown."""
    assert classify_response("create", 201, {"id": "pay_1"}).type == "ok"
    assert classify_response("read", 404).type == "fail"
    assert classify_response("read", 500).type == "info"
    assert classify_response("charge", 409).type == "fail"


def test_merge_aligns_files_by_wall_clock_and_reindexes() -> None:
    """Two recorders started 1 s apart merge onto one timeline, indices 0..n-1 in time order."""
    a = [Op(0, 0.5, 1000.5, "a0", "invoke", "create"), Op(1, 2.0, 1002.0, "a0", "ok", "create")]
    b = [Op(0, 0.2, 1001.2, "b0", "invoke", "create"), Op(1, 0.4, 1001.4, "b0", "fail", "create")]
    merged = merge_histories([a, b])
    assert [(o.index, o.process, round(o.time, 6)) for o in merged] == [
        (0, "a0", 0.5),
        (1, "b0", 1.2),
        (2, "b0", 1.4),
        (3, "a0", 2.0),
    ]
