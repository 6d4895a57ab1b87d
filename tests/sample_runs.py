"""Small literal run directories (a pr145 double charge, a safe pass) for tests and benchmarks."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from harness.jsonl import write_jsonl

WALL0 = 1764190000.0  # epoch seconds at the sample run's monotonic zero
PERCENTILES = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
LOCUST_STATS_HEADER = [
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time",
    "Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
    "Requests/s", "Failures/s", *PERCENTILES,
]
LOCUST_HISTORY_HEADER = [
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *PERCENTILES,
    "Total Request Count", "Total Failure Count", "Total Median Response Time",
    "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
    "Total Average Content Size",
]
LOCUST_FAILURES_HEADER = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]


class _Sample:
    """Accumulates history events and ledger entries with consistent clocks and counters."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.history: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.db: dict[str, dict[str, Any]] = {}
        self.n_charge = 0
        self.n_req = 0

    def pid(self) -> str:
        return "pay_" + "".join(self.rng.choice("0123456789abcdef") for _ in range(32))

    def event(self, t: float, process: str, kind: str, f: str, payment_id: str | None,
              key: str | None = None, value: Any = None, error: Any = None) -> None:
        self.history.append({
            "index": len(self.history), "time": round(t, 6), "wall": round(WALL0 + t, 6),
            "process": process, "type": kind, "f": f, "payment_id": payment_id,
            "idempotency_key": key, "value": value, "error": error,
        })

    def request(self, t: float, payment_id: str, status: int, key: str | None,
                replayed: bool = False, fault: str | None = None) -> str:
        self.n_req += 1
        rid = f"req_{self.n_req:06d}"
        self.ledger.append({
            "seq": len(self.ledger) + 1, "kind": "request", "time": round(WALL0 + t, 6),
            "method": "POST", "path": "/v1/charges", "idempotency_key": key,
            "params_digest": f"sha256:{payment_id[-8:]}", "status": status, "replayed": replayed,
            "request_id": rid, "fault": fault, "payment_id": payment_id,
            "api_key": "sk_test_payrace",
        })
        return rid

    def charge(self, t: float, payment_id: str, key: str | None, rid: str) -> str:
        self.n_charge += 1
        cid = f"ch_{self.n_charge:04d}" + payment_id[4:12]
        self.ledger.append({
            "seq": len(self.ledger) + 1, "kind": "charge", "time": round(WALL0 + t, 6),
            "object": "charge", "id": cid, "amount": 1000, "currency": "usd",
            "payment_id": payment_id, "idempotency_key": key, "request_id": rid,
            "status": "succeeded",
        })
        return cid

    def create(self, t: float, process: str) -> tuple[str, float]:
        p = self.pid()
        end = t + self.rng.uniform(0.002, 0.006)
        self.event(t, process, "invoke", "create", None, value={"amount": 1000, "currency": "usd"})
        row = {"id": p, "status": "pending", "amount": 1000, "currency": "usd", "charge_id": None}
        self.event(end, process, "ok", "create", p, value=dict(row))
        self.db[p] = row
        return p, end

    def read(self, t: float, process: str, p: str) -> float:
        end = t + self.rng.uniform(0.001, 0.004)
        self.event(t, process, "invoke", "read", p)
        self.event(end, process, "ok", "read", p, value=dict(self.db[p]))
        return end

    def background(self, t: float, process: str, declined: bool, safe: bool) -> float:
        """One ordinary payment: create, then a charge that succeeds or is declined."""
        p, t = self.create(t, process)
        key = f"payrace-charge-{p}" if safe else None
        t += 0.001
        self.event(t, process, "invoke", "charge", p, key)
        at = t + self.rng.uniform(0.01, 0.05) * (1 + 4 * (self.rng.random() < 0.05))
        if declined:
            self.request(at, p, 402, key)
            self.db[p]["status"] = "failed"
            err = {"kind": "declined", "status": 402, "message": "card_declined"}
            self.event(at + 0.003, process, "fail", "charge", p, key, error=err)
        else:
            cid = self.charge(at - 0.0005, p, key, self.request(at, p, 200, key))
            self.db[p].update(status="completed", charge_id=cid)
            value = {"id": p, "status": "completed", "charge_id": cid}
            self.event(at + 0.003, process, "ok", "charge", p, key, value=value)
        return at + 0.004


def _story(s: _Sample, t: float, safe: bool) -> str:
    """The PR #145 story: the provider charges, the response is lost, the client retries."""
    p, t = s.create(t, "w0")
    key = f"payrace-charge-{p}" if safe else None
    s.event(t + 0.002, "w0", "invoke", "charge", p, key)
    rid = s.request(t + 0.132, p, 200, key, fault="hang_after")
    first = s.charge(t + 0.131, p, key, rid)
    timeout = {"kind": "timeout", "message": "read timed out after 1.0 s (no response from target)"}
    s.event(t + 1.002, "w0", "info", "charge", p, key, error=timeout)
    if safe:
        s.db[p]["status"] = "processing"
        # A concurrent attempt while the first is in flight: the target refuses it.
        s.event(t + 0.300, "w1", "invoke", "charge", p, key)
        conflict = {"kind": "conflict", "status": 409, "message": "payment is processing"}
        s.event(t + 0.306, "w1", "fail", "charge", p, key, error=conflict)
        s.request(t + 0.520, p, 409, key)  # the reconciler's re-drive meets the key in use
    s.read(t + 1.012, "w1", p)
    s.event(t + 1.030, "w0", "invoke", "charge", p, key)
    if safe:
        s.request(t + 1.142, p, 200, key, replayed=True)
        cid = first
    else:
        cid = s.charge(t + 1.150, p, key, s.request(t + 1.151, p, 200, key))
    s.db[p].update(status="completed", charge_id=cid)
    s.event(t + 1.170, "w0", "ok", "charge", p, key, value={"id": p, "status": "completed",
                                                          "charge_id": cid})
    s.read(t + 1.180, "w1", p)
    return p


def write_sample_run(
    run_dir: Path,
    variant: str = "pr145",
    background_payments: int = 40,
    seed: int = 0,
    locust: bool = True,
) -> Path:
    """A run directory as `payrace run` writes it; pr145 holds one double charge, safe none."""
    if variant not in ("pr145", "safe"):
        raise ValueError(f"Expected variant 'pr145' or 'safe', got variant={variant!r}")
    safe = variant == "safe"
    s = _Sample(seed)
    clocks = {"w0": 0.01, "w1": 0.012}
    half = background_payments // 2
    for i in range(half):
        proc = "w0" if i % 2 == 0 else "w1"
        clocks[proc] = s.background(clocks[proc], proc, declined=i % 11 == 5, safe=safe)
    story_at = max(clocks.values()) + 0.05
    dup = _story(s, story_at, safe)
    clocks = dict.fromkeys(clocks, story_at + 1.25)
    for i in range(background_payments - half):
        proc = "w0" if i % 2 == 0 else "w1"
        clocks[proc] = s.background(clocks[proc], proc, declined=i % 13 == 7, safe=safe)
    s.history.sort(key=lambda e: e["time"])
    for n, e in enumerate(s.history):
        e["index"] = n
    duration = max(e["time"] for e in s.history) + 0.05
    run_id = f"20251126T120000-{variant}-{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(run_dir / "history.jsonl", s.history)
    write_jsonl(run_dir / "ledger.jsonl", s.ledger)
    (run_dir / "db.json").write_text(json.dumps(list(s.db.values()), indent=1))
    summary = {
        "schema": 1,
        "run_id": run_id,
        "kind": "run",
        "command": f"payrace run --target reference:{variant} --scenario retry_storm --seed {seed}",
        "verdict": "verified" if safe else "violation",
        "exit_code": 0 if safe else 1,
        "target": f"reference:{variant}",
        "parts": {
            "postgres": {"tier": "embedded", "version": "18.6"},
            "stripe": {"tier": "standin", "version": "0.1.0", "url": "http://127.0.0.1:41235"},
            "target": {"tier": "reference", "variant": variant, "workers": 2},
            "load": {"tier": "locust", "version": "2.47.0", "processes": 2},
        },
        "seed": seed,
        "started": "2025-11-26T12:00:00+00:00",
        "duration_s": round(duration, 3),
        "checks": _checks(s, dup, safe),
        "stats": {"operations": len(s.history) // 2, "charges": s.n_charge,
                  "payments": len(s.db)},
        "faults": [{"time": round(story_at + 0.002, 3), "action": "hang_after",
                    "payment_id": dup, "ms": 1500}],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if locust:
        _locust_csvs(run_dir, s, duration)
    return run_dir


def _checks(s: _Sample, dup: str, safe: bool) -> list[dict[str, Any]]:
    charges = [e for e in s.ledger if e["kind"] == "charge" and e["payment_id"] == dup]
    ops = [e for e in s.history if e["payment_id"] == dup and e["f"] == "charge"]
    stats = {"charges": s.n_charge, "payments": len(s.db)}
    if safe:
        return [
            _check("no-duplicate-charge", "valid", "error", "No payment was charged twice.", stats),
            _check("charge-bounds", "valid", "error", "Every payment's charges match what its "
                   "client saw.", stats),
            _check("db-consistency", "valid", "error", "Every completed payment has exactly its "
                   "one charge.", stats),
            _check("retry-key-stability", "valid", "warning", "Every payment's retries used one "
                   "idempotency key.", stats),
            _check("enough-work", "valid", "error", f"{s.n_charge} charges executed.", stats),
        ]
    ids = ", ".join(c["id"] for c in charges)
    both = charges[:2]

    def violation(checker: str, because: str) -> dict[str, Any]:
        return {"checker": checker, "payment_id": dup, "because": because, "operations": ops,
                "ledger": both, "first_time": ops[0]["time"], "last_time": ops[-1]["time"]}

    return [
        _check("no-duplicate-charge", "invalid", "error",
               f"1 of {len(s.db)} payments was charged more than once.", stats,
               [violation("no-duplicate-charge",
                          f"{dup} was charged {len(charges)} times at the provider ({ids}); "
                          "at most one successful charge per payment is allowed.")]),
        _check("charge-bounds", "invalid", "error",
               "1 payment's charges do not match what its client saw.", stats,
               [violation("charge-bounds",
                          f"{dup}'s client saw ok for a charge, so it must have exactly one "
                          f"charge, but the provider holds {len(charges)}.")]),
        _check("db-consistency", "invalid", "error",
               "1 charge was taken but is not recorded in the database.", stats,
               [violation("db-consistency",
                          f"Charge {charges[0]['id']} of {dup} is not the charge the database "
                          f"recorded ({charges[-1]['id']}): money taken, order lost.")]),
        _check("retry-key-stability", "invalid", "warning",
               "1 payment's retries reached the provider without an idempotency key.", stats,
               [violation("retry-key-stability",
                          f"2 charge requests for {dup} reached the provider with no "
                          "Idempotency-Key, so a retry cannot be deduplicated.")]),
        _check("enough-work", "valid", "error", f"{s.n_charge} charges executed.", stats),
    ]


def _check(checker: str, validity: str, severity: str, summary: str, stats: dict[str, Any],
           violations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"checker": checker, "validity": validity, "severity": severity, "summary": summary,
            "violations": violations or [], "stats": stats}


def _locust_csvs(run_dir: Path, s: _Sample, duration: float) -> None:
    names = {"create": ("POST", "/payments"), "charge": ("POST", "/payments/[id]/charge"),
             "read": ("GET", "/payments/[id]")}
    lat: dict[str, list[float]] = {f: [] for f in names}
    fails: dict[str, int] = dict.fromkeys(names, 0)
    starts: dict[str, float] = {}
    for e in s.history:
        if e["type"] == "invoke":
            starts[e["process"]] = e["time"]
        elif e["f"] in names:
            lat[e["f"]].append((e["time"] - starts[e["process"]]) * 1000)
            fails[e["f"]] += e["type"] != "ok"
    rows = []
    total: list[float] = []
    for f, (method, name) in names.items():
        rows.append(_stats_row(method, name, lat[f], fails[f], duration))
        total += lat[f]
    rows.append(_stats_row("", "Aggregated", total, sum(fails.values()), duration))
    _csv(run_dir / "locust_stats.csv", LOCUST_STATS_HEADER, rows)
    failures = [["POST", "/payments/[id]/charge", "HTTPError('402 Payment Required')",
                 str(fails["charge"]), str(int(WALL0)), str(int(WALL0 + duration))]]
    _csv(run_dir / "locust_failures.csv", LOCUST_FAILURES_HEADER, failures)
    # One pass buckets completions by second: scanning the history once per second made
    # the sample writer quadratic (a 1M-op run never finished).
    done = [0] * (int(duration) + 1)
    failed = [0] * (int(duration) + 1)
    for e in s.history:
        if e["type"] != "invoke":
            done[int(e["time"])] += 1
            failed[int(e["time"])] += e["type"] != "ok"
    overall = _percentiles(total)
    history = [[str(int(WALL0) + sec), "2", "", "Aggregated", f"{done[sec]:.2f}",
                f"{failed[sec]:.2f}", *overall, str(len(total)), "0", "", "", "", "", ""]
               for sec in range(int(duration) + 1)]
    _csv(run_dir / "locust_stats_history.csv", LOCUST_HISTORY_HEADER, history)


def _percentiles(values: list[float]) -> list[str]:
    ordered = sorted(values) or [0.0]
    out = []
    for p in PERCENTILES:
        q = float(p.rstrip("%")) / 100
        out.append(str(int(ordered[min(len(ordered) - 1, int(q * len(ordered)))])))
    return out


def _stats_row(method: str, name: str, lat: list[float], fails: int, dur: float) -> list[str]:
    n = len(lat)
    mean = sum(lat) / n if n else 0.0
    pct = _percentiles(lat)
    return [method, name, str(n), str(fails), pct[0], f"{mean:.2f}",
            f"{min(lat, default=0):.0f}", f"{max(lat, default=0):.0f}", "112.0",
            f"{n / dur:.2f}", f"{fails / dur:.2f}", *pct]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
