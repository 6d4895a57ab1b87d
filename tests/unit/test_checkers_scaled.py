"""Judging evidence files in partitions gives exactly the results of judging them whole."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness.checkers import load_evidence, run_all, standard_checkers
from harness.checkers.registry import BUILTIN, merges_of
from harness.checkers.scaled import judge_files
from harness.checkers.split import routing_spans
from harness.errors import UsageError
from harness.jsonl import write_jsonl
from harness.runner.run import combine_evidence_stats, evidence_stats, evidence_tally

ORIGIN = 1_764_190_000.0
STATUSES = ("pending", "processing", "completed", "failed", "refunded")


class _Run:
    """A random run with every kind of breach the checkers know, and odd histories."""

    def __init__(self, seed: int, payments: int) -> None:
        self.rng = random.Random(seed)
        self.t = 0.0
        self.ops: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.db: list[dict[str, Any]] = []
        self.open: dict[str, dict[str, Any]] = {}
        for n in range(payments):
            self._payment(f"pay_{n}", f"p{self.rng.randrange(12)}")
        self.rng.shuffle(self.db)  # the snapshot's order is the database's, not the run's
        self.indent = 1 if seed % 2 else None  # payrace writes db.json indented; others not

    def _op(self, process: str, type_: str, f: str, pid: Any, key: Any = None,
            value: Any = None, error: Any = None) -> None:
        self.t += self.rng.choice((0.0, 0.001, 0.0005))  # ties on purpose
        self.ops.append({"index": len(self.ops), "time": round(self.t, 6),
                         "wall": ORIGIN + round(self.t, 6), "process": process, "type": type_,
                         "f": f, "payment_id": pid, "idempotency_key": key, "value": value,
                         "error": error})

    def _entry(self, **fields: Any) -> dict[str, Any]:
        entry = {"seq": len(self.ledger) + 1, "time": ORIGIN + self.t, **fields}
        if self.rng.random() < 0.3:
            entry["wall"] = ORIGIN + self.t
        self.ledger.append(entry)
        return entry

    def _charge(self, pid: Any, cid: str, key: Any, amount: int = 1000) -> None:
        self._entry(kind="request", method="POST", path=self.rng.choice(
            ("/v1/charges", "/v1/payment_intents", f"/v1/payment_intents/pi_{cid}/confirm")),
            idempotency_key=key, status=200, replayed=False, request_id=f"req_{cid}",
            payment_id=pid)
        replayed = self.rng.random() < 0.05
        status = "failed" if self.rng.random() < 0.03 else "succeeded"
        self._entry(kind="charge", object="charge", id=cid, amount=amount, currency="usd",
                    payment_id=pid, idempotency_key=key, request_id=f"req_{cid}",
                    status=status, replayed=replayed,
                    **({"latest_charge": f"{cid}_l"} if self.rng.random() < 0.1 else {}))

    def _payment(self, pid: str, proc: str) -> None:
        rng = self.rng
        # A create's invoke has no payment id (the service names it), as scenarios record it.
        if rng.random() < 0.05:  # a create that never completes, then the process goes on
            self._op(proc, "invoke", "create", None, value={"amount": 1000})
        self._op(proc, "invoke", "create", None if rng.random() < 0.7 else pid,
                 value={"amount": 1000})
        self._op(proc, "ok", "create", pid, value={"id": pid, "status": "pending"})
        charges: list[str] = []
        outcome = "never"
        for attempt in range(rng.choice((0, 1, 1, 1, 2, 3))):
            key = rng.choice((f"ck-{pid}", f"ck-{pid}-{attempt}", None))
            self._op(proc, "invoke", "charge", pid, key)
            roll = rng.random()
            cid = f"ch_{pid}_{attempt}"
            if roll < 0.55:
                self._charge(pid, cid, key)
                charges.append(cid)
                value: dict[str, Any] = {"id": pid, "status": "completed"}
                if rng.random() > 0.03:
                    value["charge_id"] = cid
                self._op(proc, "ok", "charge", pid, key, value)
                outcome = "ok"
            elif roll < 0.7:
                self._entry(kind="request", method="POST", path="/v1/charges",
                            idempotency_key=key, status=402, replayed=False,
                            request_id=f"req_{cid}", payment_id=pid)
                self._op(proc, "fail", "charge", pid, key, None,
                         {"kind": "declined", "status": 402})
                outcome = "fail" if outcome == "never" else outcome
            elif roll < 0.9:
                if rng.random() < 0.6:
                    self._charge(pid, cid, key)
                    charges.append(cid)
                self._op(proc, "info", "charge", pid, key,
                         {"id": pid, "status": "processing"} if rng.random() < 0.3 else None,
                         {"kind": "timeout", "status": None})
                outcome = "info"
            else:  # the process dies mid-charge: an invoke never completed
                if rng.random() < 0.5:
                    self._charge(pid, cid, key)
                    charges.append(cid)
                proc = f"{proc}x"
                outcome = "info"
        if rng.random() < 0.04:  # a charge the client never asked for, or without payment id
            cid = f"ch_{pid}_extra"
            self._charge(pid if rng.random() < 0.5 else None, cid, None)
            if rng.random() < 0.05:  # the row names it: links its payment to partition 0
                charges.append(cid)
        if charges and rng.random() < 0.05:
            self._entry(kind="refund", id=f"re_{pid}", charge=rng.choice(charges), amount=500)
        if rng.random() < 0.1:  # a read, sometimes of a status that went backwards
            self._op(proc, "invoke", "read", pid)
            self._op(proc, "ok", "read", pid, value={"id": pid, "status": rng.choice(STATUSES)})
        # Rare, as in a real run: each links two partitions, and many would make one group.
        if rng.random() < 0.003:  # an orphan completion, after an invoke of another f
            self._op(proc, "invoke", "read", pid)
            self._op(proc, "ok", "charge", f"pay_{rng.randrange(10_000)}", value={"id": pid})
        if rng.random() < 0.003:  # a completion naming another payment than its invoke
            self._op(proc, "invoke", "read", pid)
            self._op(proc, "ok", "read", f"pay_{rng.randrange(10_000)}",
                     value={"id": pid, "status": "completed"})
        self._row(pid, charges, outcome)

    def _row(self, pid: str, charges: list[str], outcome: str) -> None:
        rng = self.rng
        if rng.random() < 0.03:
            return  # the order is lost
        status = {"ok": "completed", "fail": "failed", "info": "processing",
                  "never": "pending"}[outcome]
        if rng.random() < 0.05:
            status = rng.choice(STATUSES)
        charge_id = charges[-1] if charges and status == "completed" else None
        if status == "completed" and rng.random() < 0.01:  # another payment's charge, or none
            charge_id = rng.choice((None, f"ch_pay_{rng.randrange(10_000)}_0", "ch_nowhere"))
        amount = 1000 if rng.random() > 0.03 else 999
        self.db.append({"id": pid, "status": status, "charge_id": charge_id, "amount": amount,
                        "currency": "usd"})

    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        write_jsonl(root / "history.jsonl", self.ops)
        write_jsonl(root / "ledger.jsonl", self.ledger)
        (root / "db.json").write_text(json.dumps(self.db, indent=self.indent))
        return root


def _whole(root: Path, reconciled: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    evidence = load_evidence(root, reconciled=reconciled)
    results = run_all(evidence, checkers=standard_checkers())
    return [r.to_dict() for r in results], evidence_stats(evidence.history, evidence.ledger)


def _partitioned(root: Path, reconciled: bool, partitions: int, groups: int = 1,
                 workers: int = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The results judged in partitions, in `workers` processes; at least `groups` of them
    judged apart."""
    db = root / "db.json"
    judged = judge_files(root / "history.jsonl", root / "ledger.jsonl", db,
                         standard_checkers(), merges_of(BUILTIN), reconciled=reconciled,
                         partitions=partitions, tally=evidence_tally, workers=workers)
    assert judged.groups >= groups, (judged.partitions, judged.groups)
    assert judged.workers == (workers if partitions > 1 else 1)
    return [r.to_dict() for r in judged.results], combine_evidence_stats(judged.tallies)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partitions_give_the_whole_evidence_results_exactly(tmp_path: Path, seed: int,
                                                            monkeypatch: Any) -> None:
    """Every checker's status, counts, violations and sentences, and the run's counts, are
    those of the evidence judged whole, however many partitions it is cut into, and however
    many processes route the history (one per worker: any size is worth cutting here)."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    # Whatever the measured weight of a ledger byte, this run's ledger leaves its process time.
    monkeypatch.setattr("harness.checkers.split.LEDGER_COST", 0.5)
    root = _Run(seed, 1500).write(tmp_path / "run")
    # With 2 and 4 workers, the ledger's process routes the history's last range too.
    assert routing_spans(root / "history.jsonl", (root / "ledger.jsonl", root / "db.json"),
                         2)[1] is not None
    for reconciled in (True, False):
        whole, stats = _whole(root, reconciled)
        assert {r["validity"] for r in whole} >= {"invalid", "valid"}
        # Few links, as in a real run: 32 partitions stay several groups whatever the hash seed.
        for partitions, groups, workers in ((1, 1, 1), (2, 1, 1), (7, 1, 2), (9, 1, 4), (32, 4, 1),
                                            (32, 4, 3)):
            got = _partitioned(root, reconciled, partitions, groups, workers)
            assert got == (whole, stats), (partitions, workers)


def test_the_generated_run_breaks_every_checker(tmp_path: Path) -> None:
    """The run above is worth comparing: each checker finds violations of several kinds."""
    whole, _ = _whole(_Run(1, 1500).write(tmp_path / "run"), True)
    kinds = {r["checker"]: {v["kind"] for v in r["violations"]} for r in whole}
    assert kinds["no-duplicate-charge"] == {"duplicate-charge"}
    assert {"too-many-charges", "charge-after-fail", "charge-without-request",
            "ok-without-charge"} <= kinds["charge-bounds"]
    assert {"completed-without-charge-id", "completed-without-charge", "amount-mismatch",
            "money-taken-order-lost", "money-taken-no-order",
            "charge-of-another-payment"} <= kinds["db-consistency"]
    assert {"ok-without-charge-id", "completed-without-charge-id", "status-backwards",
            "unknown-status", "charge-without-payment-id"} <= kinds["target-contract"]
    assert kinds["retry-key-stability"] == {"unstable-key"}


def test_without_a_db_view_and_unsettled_the_results_still_agree(tmp_path: Path) -> None:
    """No db.json: db-consistency is unknown alike; pending payments are named alike."""
    root = _Run(4, 800).write(tmp_path / "run")
    (root / "db.json").unlink()
    whole, stats = _whole(root, False)
    assert _partitioned(root, False, 5) == (whole, stats)
    assert _partitioned(root, False, 5, workers=2) == (whole, stats)


def test_a_checker_without_merge_judges_the_whole_evidence(tmp_path: Path) -> None:
    """A user's checker that cannot be merged sees every op: one partition, whatever is asked."""
    root = _Run(5, 300).write(tmp_path / "run")
    seen: list[int] = []

    def check_count(evidence: Any) -> Any:
        seen.append(len(evidence.history))
        return run_all(evidence, checkers={"enough-work": standard_checkers()["enough-work"]})[0]

    suite = {**standard_checkers(), "count": (check_count, "error")}
    judged = judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json", suite,
                         {**merges_of(BUILTIN), "count": None}, partitions=8)
    assert judged.partitions == 1
    assert seen == [len((root / "history.jsonl").read_text().splitlines())]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_damaged_line_is_refused_as_the_whole_reader_refuses_it(tmp_path: Path, workers: int,
                                                                  monkeypatch: Any) -> None:
    """The torn-line rule holds when streaming, the history in one part or two: a damaged
    middle line names its line; a torn last line is dropped and counted."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    root = _Run(6, 200).write(tmp_path / "run")
    lines = (root / "history.jsonl").read_text().splitlines(keepends=True)
    (root / "history.jsonl").write_text("".join(lines) + lines[-1][:20])
    judged = judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                         standard_checkers(), merges_of(BUILTIN), partitions=4, workers=workers)
    assert judged.torn_lines == 1
    lines[5] = '{"index": 5, "time": "soon"}\n'
    (root / "history.jsonl").write_text("".join(lines))
    with pytest.raises(UsageError) as whole:
        load_evidence(root)
    with pytest.raises(UsageError) as streamed:
        judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                    standard_checkers(), merges_of(BUILTIN), partitions=4, workers=workers)
    assert str(streamed.value) == str(whole.value)
    assert "line 6 is not a history op" in str(streamed.value)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_damaged_line_is_refused_alike_in_any_process(tmp_path: Path, workers: int) -> None:
    """A damaged ledger line (routed by the side process when judging in parallel), a damaged
    history line, a db.json that is not JSON: each is the whole reader's one-line error."""
    root = _Run(7, 300).write(tmp_path / "run")
    files = {name: (root / name).read_text() for name in ("history.jsonl", "ledger.jsonl")}
    for name, text in files.items():
        lines = text.splitlines(keepends=True)
        lines[3] = lines[3][: len(lines[3]) // 2] + "\n"
        (root / name).write_text("".join(lines))
        with pytest.raises(UsageError) as whole:
            load_evidence(root)
        with pytest.raises(UsageError) as judged:
            judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                        standard_checkers(), merges_of(BUILTIN), partitions=4, workers=workers)
        assert str(judged.value) == str(whole.value)
        assert f"{name} line 4 is not a" in str(judged.value)
        (root / name).write_text(text)
    (root / "db.json").write_text("[{")
    with pytest.raises(UsageError, match=r"db\.json is not JSON"):
        judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                    standard_checkers(), merges_of(BUILTIN), partitions=4, workers=workers)


def test_a_checker_a_worker_cannot_import_is_judged_here(tmp_path: Path) -> None:
    """A user's checker defined in a test (a closure) keeps working: the suite is judged in
    this process, partitioned, even when workers are asked for."""
    root = _Run(8, 300).write(tmp_path / "run")
    merge = merges_of(BUILTIN)["enough-work"]

    def check_mine(evidence: Any) -> Any:
        return run_all(evidence, checkers={"enough-work": standard_checkers()["enough-work"]})[0]

    judged = judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                         {**standard_checkers(), "mine": (check_mine, "error")},
                         {**merges_of(BUILTIN), "mine": merge}, partitions=4, workers=2)
    assert (judged.partitions, judged.workers) == (4, 1)
    assert judged.results[-1].stats == judged.results[-2].stats


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_damaged_line_in_any_part_of_the_history_is_refused_alike(
        tmp_path: Path, workers: int, monkeypatch: Any) -> None:
    """A damaged history line in the first part or a later one (routed by another process)
    is refused with the whole reader's one-line error."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    monkeypatch.setattr("harness.checkers.split.LEDGER_COST", 1.15)  # the ranges below
    root = _Run(9, 600).write(tmp_path / "run")
    text = (root / "history.jsonl").read_text()
    lines = text.splitlines(keepends=True)
    # With two workers the last range is the ledger's process's: the damage near the end is
    # routed there (with three, this ledger takes a CPU's share: the ranges are equal).
    _, tail = routing_spans(root / "history.jsonl", (root / "ledger.jsonl", root / "db.json"),
                            workers)
    assert (tail is not None) == (workers == 2)
    for n in (20, len(lines) // 2 + 30, len(lines) - 3):
        assert lines[n].startswith('{"index":') and '"value":' in lines[n]
        damaged = lines.copy()
        damaged[n] = damaged[n].replace('"value":', '"value":{{', 1)
        (root / "history.jsonl").write_text("".join(damaged))
        with pytest.raises(UsageError) as whole:
            load_evidence(root)
        with pytest.raises(UsageError) as judged:
            judge_files(root / "history.jsonl", root / "ledger.jsonl", root / "db.json",
                        standard_checkers(), merges_of(BUILTIN), partitions=4,
                        workers=workers)
        assert str(judged.value) == str(whole.value)
        assert f"history.jsonl line {n + 1} is not a history op" in str(judged.value)


def test_a_lone_carriage_return_is_read_whole_alike(tmp_path: Path, monkeypatch: Any) -> None:
    """A lone \\r ends a line for the whole reader: routed in parts the line numbers would
    differ, so such a history is routed in one part, with the whole reader's results."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    root = _Run(10, 400).write(tmp_path / "run")
    lines = (root / "history.jsonl").read_bytes().splitlines(keepends=True)
    lines[5] = lines[5][:-1] + b"\r\r\n"  # a blank line for the text reader
    (root / "history.jsonl").write_bytes(b"".join(lines))
    whole, stats = _whole(root, True)
    assert _partitioned(root, True, 4, workers=3) == (whole, stats)


@pytest.mark.parametrize("without", ["every op", "the first op"])
def test_a_history_without_wall_times_is_judged_alike_with_ledger_times_unknown(
        tmp_path: Path, monkeypatch: Any, without: str) -> None:
    """A writer that leaves `wall` out: the history's times cannot be set beside the ledger's.
    Judged whole or in parts by any number of processes, the results agree, and a ledger
    entry's time reads as unknown (t=?), never as an epoch time taken for the run's clock:
    the clock is the first op's, not a later one's nor the ledger's."""
    monkeypatch.setattr("harness.checkers.split.MIN_PART_BYTES", 1)
    run = _Run(5, 600)
    for op in run.ops if without == "every op" else run.ops[:1]:
        del op["wall"]
    root = run.write(tmp_path / "run")
    whole, stats = _whole(root, True)
    for partitions, workers in ((1, 1), (9, 2), (9, 3)):
        assert _partitioned(root, True, partitions, workers=workers) == (whole, stats)
    said = " ".join(v["because"] for r in whole for v in r["violations"])
    assert "t=?" in said and "t=17" not in said
