"""The report's plain dict from literal run directories: verdict, checks, timelines, notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.report import build_report, read_run
from harness.report.operations import error_label, pair_operations
from tests.sample_runs import write_sample_run

W = 1764190000.0  # epoch seconds at the run's monotonic zero
PAY = "pay_0123456789abcdef0123456789abcdef"


def ev(
    i: int, t: float, proc: str, kind: str, f: str, pid: str | None = PAY, **kw: Any
) -> dict[str, Any]:
    return {"index": i, "time": t, "wall": W + t, "process": proc, "type": kind, "f": f,
            "payment_id": pid, "idempotency_key": None, "value": kw.get("value"),
            "error": kw.get("error")}


def write_literal_run(run_dir: Path) -> Path:
    """The PR #145 story by hand: charge timed out (info), retried, two charges in the ledger."""
    history = [
        ev(0, 0.000, "w0", "invoke", "create", None),
        ev(1, 0.004, "w0", "ok", "create", value={"id": PAY, "status": "pending"}),
        ev(2, 0.010, "w0", "invoke", "charge"),
        ev(3, 1.010, "w0", "info", "charge", error={"kind": "timeout", "status": None,
                                                   "message": "read timed out"}),
        ev(4, 1.020, "w1", "invoke", "read"),
        ev(5, 1.024, "w1", "ok", "read", value={"id": PAY, "status": "pending"}),
        ev(6, 1.030, "w0", "invoke", "charge"),
        ev(7, 1.200, "w0", "ok", "charge",
           value={"id": PAY, "status": "completed", "charge_id": "ch_B"}),
    ]
    ledger = [
        {"seq": 1, "kind": "charge", "time": W + 0.120, "object": "charge", "id": "ch_A",
         "amount": 1000, "currency": "usd", "payment_id": PAY, "idempotency_key": None,
         "request_id": "req_1", "status": "succeeded"},
        {"seq": 2, "kind": "request", "time": W + 0.121, "method": "POST", "path": "/v1/charges",
         "idempotency_key": None, "status": 200, "replayed": False, "request_id": "req_1",
         "fault": "hang_after", "payment_id": PAY},
        {"seq": 3, "kind": "charge", "time": W + 1.150, "object": "charge", "id": "ch_B",
         "amount": 1000, "currency": "usd", "payment_id": PAY, "idempotency_key": None,
         "request_id": "req_2", "status": "succeeded"},
        {"seq": 4, "kind": "request", "time": W + 1.151, "method": "POST", "path": "/v1/charges",
         "idempotency_key": None, "status": 200, "replayed": False, "request_id": "req_2",
         "fault": None, "payment_id": PAY},
    ]
    because = f"{PAY} was charged 2 times at the provider (ch_A, ch_B)."
    checks = [
        {"checker": "no-duplicate-charge", "validity": "invalid", "severity": "error",
         "summary": "1 of 1 payments was charged more than once.",
         "violations": [{"checker": "no-duplicate-charge", "payment_id": PAY, "because": because,
                         "operations": [history[2], history[3], history[6], history[7]],
                         "ledger": [ledger[0], ledger[2]], "first_time": 0.01,
                         "last_time": 1.2}], "stats": {}},
        {"checker": "enough-work", "validity": "valid", "severity": "error",
         "summary": "2 charges executed.", "violations": [], "stats": {}},
    ]
    run_dir.mkdir(parents=True)
    (run_dir / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in history))
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ledger))
    (run_dir / "db.json").write_text(json.dumps(
        [{"id": PAY, "status": "completed", "charge_id": "ch_B", "amount": 1000}]))
    (run_dir / "summary.json").write_text(json.dumps({
        "schema": 1, "run_id": "r1", "kind": "explore", "command": "payrace explore --seed 7",
        "verdict": "violation", "exit_code": 1, "target": "reference:pr145",
        "parts": {"postgres": {"tier": "embedded", "version": "18.6"},
                  "stripe": {"tier": "standin", "url": "http://127.0.0.1:1"}},
        "seed": 7, "started": "2025-11-26T12:00:00+00:00", "duration_s": 1.3,
        "checks": checks, "stats": {}, "faults": [{"time": 0.01, "action": "hang_after"}]}))
    return run_dir


def test_a_double_charge_run_reads_as_a_violation_with_its_headline(tmp_path: Path) -> None:
    report = build_report(read_run(write_literal_run(tmp_path / "r1")))
    assert report["verdict"] == "violation"
    assert report["headline"] == "no-duplicate-charge: 1 of 1 payments was charged more than once."
    assert [c["checker"] for c in report["checks"]] == ["no-duplicate-charge", "enough-work"]
    because = f"{PAY} was charged 2 times at the provider (ch_A, ch_B)."
    assert report["checks"][0]["because"] == [because]
    assert report["parts"][0] == {"name": "postgres", "tier": "embedded", "version": "18.6",
                                  "details": ""}
    assert report["parts"][1]["details"] == "url=http://127.0.0.1:1"
    assert report["counts"]["charges"] == 2
    assert report["command"] == "payrace explore --seed 7"


def test_the_violation_timeline_shows_the_timeout_the_retry_and_the_second_charge(
    tmp_path: Path,
) -> None:
    report = build_report(read_run(write_literal_run(tmp_path / "r1")))
    (violation,) = report["violations"]
    timeline = violation["timeline"]
    assert violation["payment_id"] == PAY
    assert [lane["label"] for lane in timeline["lanes"]] == ["client w0", "client w1"]
    w0 = timeline["lanes"][0]["items"]
    assert [(i["f"], i["outcome"]) for i in w0] == [
        ("create", "ok"), ("charge", "info"), ("charge", "ok")]
    assert w0[1]["label"] == "charge #1 · info: timeout"
    assert w0[1]["start_ms"] == pytest.approx(10.0) and w0[1]["end_ms"] == pytest.approx(1010.0)
    assert "read timed out" in w0[1]["title"]
    assert w0[1]["highlight"] and not w0[0]["highlight"]
    charges = timeline["charges"]
    assert [(c["id"], c["n"], c["duplicate"]) for c in charges] == [
        ("ch_A", 1, False), ("ch_B", 2, True)]
    assert charges[1]["label"] == "2nd charge · ch_B"
    assert charges[0]["recorded"] is False and charges[1]["recorded"] is True
    assert charges[0]["t_ms"] == pytest.approx(120.0)
    requests = timeline["requests"]
    assert requests[0]["fault"] == "hang_after"
    assert requests[0]["label"] == "200 hang_after (charged, reply held)"
    # the first request can only come from charge #1; the second could also be charge #1's
    # (its outcome is unknown, the target may still be working on it), so it is not linked
    assert [r["caused_by"] for r in requests] == [2, None]
    assert [p["status"] for p in timeline["status"]] == ["pending", "completed"]
    assert timeline["db"] == {"status": "completed", "charge_id": "ch_B"}
    assert timeline["caption"] == (
        f"{PAY}: the provider charged ch_A at +120 ms, during w0's charge #1, which ended "
        "info: timeout. The client tried again (charge #2 on w0: ok) and the provider charged "
        "again: the 2nd charge, ch_B at +1150 ms. The database records completed with ch_B, "
        "so ch_A is money taken but not recorded.")


def test_evidence_rows_list_operations_and_ledger_entries_in_time_order(tmp_path: Path) -> None:
    report = build_report(read_run(write_literal_run(tmp_path / "r1")))
    evidence = report["violations"][0]["evidence"]
    assert [o["index"] for o in evidence["operations"]] == [0, 2, 4, 6]
    assert evidence["operations"][1]["detail"].startswith("kind=timeout")
    assert [e["seq"] for e in evidence["ledger"]] == [1, 2, 3, 4]


def test_a_safe_run_is_verified_and_has_no_violations(tmp_path: Path) -> None:
    report = build_report(read_run(write_sample_run(tmp_path / "safe", "safe")))
    assert report["verdict"] == "verified"
    assert report["violations"] == [] and report["violations_listed"] == []
    assert report["headline"].startswith("All 5 invariants hold over ")
    assert report["counts"]["replays"] == 1


def test_pairing_matches_each_invoke_with_the_next_completion_of_its_process() -> None:
    history = [
        ev(0, 0.0, "w0", "invoke", "charge"),
        ev(1, 0.1, "w1", "invoke", "read"),
        ev(2, 0.2, "w1", "ok", "read", value={"status": "pending"}),
        ev(3, 0.3, "w0", "fail", "charge", error={"kind": "declined", "status": 402}),
        ev(4, 0.4, "w1", "invoke", "charge"),
    ]
    ops = pair_operations(history)
    assert [(o.index, o.process, o.outcome, o.end_index) for o in ops] == [
        (0, "w0", "fail", 3), (1, "w1", "ok", 2), (4, "w1", "open", None)]
    assert ops[0].latency_s == pytest.approx(0.3)


@pytest.mark.parametrize(("error", "label"), [
    ({"kind": "timeout", "status": None}, "timeout"),
    ({"kind": "reset"}, "reset"),
    ({"kind": "server_error", "status": 503}, "503"),
    ({"kind": "conflict", "status": 409}, "conflict 409"),
    (None, ""),
])
def test_error_labels_are_short_names_of_the_cause(
    error: dict[str, Any] | None, label: str
) -> None:
    assert error_label(error) == label


def test_a_torn_last_history_line_is_skipped_and_said(tmp_path: Path) -> None:
    run_dir = write_literal_run(tmp_path / "r1")
    with (run_dir / "history.jsonl").open("a") as fh:
        fh.write('{"index": 8, "time": 1.3, "proc')
    run = read_run(run_dir)
    assert run.skipped_lines["history.jsonl"] == 1
    notes = build_report(run)["notes"]
    assert any("history.jsonl: 1 unreadable line skipped" in n for n in notes)


def test_a_run_with_only_a_summary_still_builds_and_names_what_is_missing(tmp_path: Path) -> None:
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps({"run_id": "bare", "checks": [
        {"checker": "enough-work", "validity": "unknown", "severity": "error",
         "summary": "0 charges executed; at least 1 needed.", "violations": []}]}))
    report = build_report(read_run(run_dir))
    assert report["verdict"] == "inconclusive"  # derived from the checks when not stated
    assert report["headline"] == "enough-work: 0 charges executed; at least 1 needed."
    assert report["counts"]["operations"] == 0
    assert any(n.startswith("history.jsonl is missing") for n in report["notes"])
    assert any(n.startswith("db.json is missing") for n in report["notes"])


def test_a_directory_without_summary_is_refused_naming_what_a_run_directory_holds(
    tmp_path: Path,
) -> None:
    not_a_run = r"is not a payrace run directory: it has no summary\.json"
    with pytest.raises(UsageError, match=not_a_run):
        read_run(tmp_path)
    with pytest.raises(UsageError, match="No run directory at"):
        read_run(tmp_path / "missing")


def test_a_malformed_summary_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text('{"run_id": "x",\n oops}')
    with pytest.raises(UsageError, match=r"summary.json is not valid JSON \(line 2"):
        read_run(tmp_path)
    (tmp_path / "summary.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="must hold a JSON object, got a JSON list"):
        read_run(tmp_path)
    (tmp_path / "summary.json").write_bytes(b'{"run_id": "\xff"}')
    with pytest.raises(UsageError, match=r"summary.json is not UTF-8 text \(byte 12\)"):
        read_run(tmp_path)
    (tmp_path / "summary.json").write_text('{"run_id": "x", "duration_s": NaN}')
    assert read_run(tmp_path).summary["run_id"] == "x"  # json's NaN, as json reads it


def test_many_violating_payments_get_at_most_twelve_timelines(tmp_path: Path) -> None:
    run_dir = write_literal_run(tmp_path / "r1")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["checks"][0]["violations"] = [
        {"checker": "no-duplicate-charge", "payment_id": f"pay_{n}", "because": f"pay_{n} twice"}
        for n in range(30)
    ]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    report = build_report(read_run(run_dir))
    assert len(report["violations"]) == 12
    assert len(report["violations_listed"]) == 18
    assert report["violations_listed"][0]["payment_id"] == "pay_12"


def test_load_charts_start_where_the_load_starts_not_at_provisioning() -> None:
    from harness.report.series import load_series, percentile

    late = [ev(0, 11.0, "w0", "invoke", "charge"), ev(1, 11.2, "w0", "ok", "charge"),
            ev(2, 19.0, "w0", "invoke", "charge"), ev(3, 19.5, "w0", "info", "charge")]
    series = load_series(pair_operations(late), duration_s=20.0)
    assert series["bucket_s"] == 0.25 and series["start_s"] == pytest.approx(10.75)
    assert sum(series["throughput"]["ok"]) * series["bucket_s"] == pytest.approx(1.0)
    assert sum(series["throughput"]["info"]) * series["bucket_s"] == pytest.approx(1.0)
    assert [p for p in series["latency_ms"]["p99"] if p is not None] == pytest.approx([200, 500])
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0 and percentile([], 99) == 0.0


def test_ledger_wall_time_wins_over_an_advanced_key_clock_and_replays_are_not_money(
    tmp_path: Path,
) -> None:
    run_dir = write_literal_run(tmp_path / "r1")
    rows = [json.loads(line) for line in (run_dir / "ledger.jsonl").read_text().splitlines()]
    for row in rows:  # the stand-in's key clock was moved a day ahead; `wall` stayed real
        row["wall"], row["time"] = row["time"], row["time"] + 86400
    rows.append({**rows[2], "seq": 5, "replayed": True})  # a replay writes no money
    rows.append({**rows[2], "seq": 6})  # the same charge id twice is one charge
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build_report(read_run(run_dir))
    timeline = report["violations"][0]["timeline"]
    assert [c["t_ms"] for c in timeline["charges"]] == pytest.approx([120.0, 1150.0])
    assert report["counts"]["charges"] == 2


def test_a_null_db_snapshot_reads_as_no_snapshot_not_as_bad_input(tmp_path: Path) -> None:
    """db.json holding `null` (no snapshot taken) builds the report and says the DB is missing."""
    run_dir = write_sample_run(tmp_path / "run", "safe")
    (run_dir / "db.json").write_text("null\n")
    run = read_run(run_dir)
    assert run.db is None
    assert build_report(run)["verdict"] == "verified"


def test_a_history_without_wall_times_is_drawn_on_an_approximate_clock_and_says_so(
        tmp_path: Path) -> None:
    """Another writer may leave `wall` out: the ledger is then set beside the operations by
    its first entry at the first operation (not at epoch seconds), and a note says the
    offsets between them are approximate."""
    run_dir = write_literal_run(tmp_path / "r1")
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    events = [{k: v for k, v in json.loads(line).items() if k != "wall"} for line in lines]
    (run_dir / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    report = build_report(read_run(run_dir))
    assert any("no wall clock" in note for note in report["notes"])
    evidence = report["violations"][0]["evidence"]
    offsets = [row["t_ms"] for row in evidence["operations"] + evidence["ledger"]]
    assert max(offsets) - min(offsets) < 5_000, offsets  # the run lasted 1.2 s
    # With wall times, nothing is approximate and no note says so.
    assert not any("no wall clock" in n for n in build_report(
        read_run(write_literal_run(tmp_path / "r2")))["notes"])
