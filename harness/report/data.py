"""Build the report's plain dict from a run's evidence: no HTML, no drawing, no file writes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from harness import __version__
from harness.checkers.registry import description, position
from harness.ledger import money_charges
from harness.report.ledger import on_wall_clock
from harness.report.operations import Operation, aligned_origin, pair_operations, wall_origin
from harness.report.rundir import (
    LOCUST_FAILURES,
    LOCUST_HISTORY,
    LOCUST_STATS,
    CsvTable,
    RunFiles,
)
from harness.report.series import latency_table, load_series
from harness.report.timeline import build_timeline

MAX_TIMELINES = 12  # beyond this, violations are listed without a picture: keeps pages small
VALIDITY_RANK = {"valid": 0, "unknown": 1, "invalid": 2}
# Locust's columns that a reader needs; the CSV next to the report keeps all of them.
LOCUST_COLUMNS = (
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time",
    "Average Response Time", "Min Response Time", "Max Response Time", "Requests/s",
    "Failures/s", "95%", "99%", "100%",
)


def build_report(run: RunFiles) -> dict[str, Any]:
    """The whole report as plain data (JSON-serialisable), ready for a template."""
    summary = run.summary
    run = replace(run, ledger=on_wall_clock(run.ledger))  # a copy: the input stays untouched
    checks = [c for c in summary.get("checks", []) if isinstance(c, dict)]
    origin = wall_origin(run.history)
    # No `wall` in the history: its times are set beside the ledger's only approximately.
    approximate = origin is None and bool(run.history) and bool(run.ledger)
    if approximate:
        origin = aligned_origin(run.history, run.ledger)
    ops = pair_operations(run.history, origin)
    verdict = str(summary.get("verdict") or _verdict_from(checks))
    counted = _summary_counts(run)  # None: the evidence was read, and is counted
    return {
        "run_id": str(summary.get("run_id") or run.run_dir.name),
        "kind": summary.get("kind", "run"),
        "target": summary.get("target", "?"),
        "scenario": summary.get("scenario"),
        "command": summary.get("command", ""),
        "verdict": verdict,
        "exit_code": summary.get("exit_code"),
        "seed": summary.get("seed"),
        "started": summary.get("started", ""),
        "duration_s": summary.get("duration_s"),
        "headline": headline(verdict, checks, ops, run.ledger, counted),
        "parts": parts_rows(summary.get("parts")),
        "coverage": coverage_rows(summary.get("coverage")),
        "checks": [_check_row(c) for c in checks],
        "counts": counted or _counts(ops, run),
        "evidence_unread": run.unread_bytes,
        **_violations(checks, ops, run),
        "load": load_series(ops, _float(summary.get("duration_s"))),
        "latency_table": latency_table(ops),
        "faults": _faults(summary.get("faults"), run.ledger, origin),
        "locust": _locust(run.locust, origin),
        "files": run.present,
        "notes": _notes(run, approximate),
        "stats": summary.get("stats") if isinstance(summary.get("stats"), dict) else {},
        "payrace_version": __version__,
    }


def _verdict_from(checks: list[dict[str, Any]]) -> str:
    errors = [c.get("validity") for c in checks if c.get("severity", "error") == "error"]
    if "invalid" in errors:
        return "violation"
    return "inconclusive" if "unknown" in errors or not checks else "verified"


def headline(
    verdict: str, checks: list[dict[str, Any]], ops: list[Operation], ledger: list[dict[str, Any]],
    counted: dict[str, Any] | None = None,
) -> str:
    """The sentence under the verdict: the worst finding, or what was verified over how much
    (`counted`: the summary's counts, when the evidence was too large to read)."""
    if verdict == "violation":
        for c in _sorted_checks(checks):
            if c.get("validity") == "invalid" and c.get("severity", "error") == "error":
                return f"{c.get('checker')}: {c.get('summary', '')}"
    if verdict == "inconclusive":
        for c in checks:
            if c.get("validity") == "unknown":
                return f"{c.get('checker')}: {c.get('summary', '')}"
        return "No checker could decide."
    if counted is not None:
        return (f"All {len(checks)} invariants hold over {counted['operations']} operations "
                f"and {counted['charges']} charges.")
    charges = len(money_charges(ledger))
    return (f"All {len(checks)} invariants hold over {len(ops)} operations and "
            f"{charges} charges.")


def _sorted_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The registry's order: the core invariant's violations are what the page is about.
    return sorted(checks, key=lambda c: position(str(c.get("checker"))))


def coverage_rows(cov: Any) -> list[dict[str, str]]:
    """What reached the target: each fault family (applied or skipped, and why), the evidence."""
    if not isinstance(cov, dict):
        return []
    rows = []
    for fault in cov.get("faults") or []:
        if isinstance(fault, dict):
            rows.append({
                "what": f"fault family: {fault.get('family')}",
                "status": "applied" if fault.get("applies") else "skipped",
                "why": str(fault.get("why", "")),
            })
    for key, label in (("database_view", "database view"), ("settle", "settling")):
        if cov.get(key):
            rows.append({"what": label, "status": "used", "why": str(cov[key])})
    settled = cov.get("settled")
    if isinstance(settled, dict):
        state = "settled" if settled.get("settled") else "not settled"
        why = f"waited {settled.get('waited_s')} s of at most {settled.get('budget_s')} s"
        if settled.get("unsettled_count"):
            why += f"; {settled['unsettled_count']} payment(s) still processing"
        rows.append({"what": "settle result", "status": state, "why": why})
    return rows


def parts_rows(parts: Any) -> list[dict[str, str]]:
    """Parts used, one row each: name, tier, version and any other detail as key=value."""
    if not isinstance(parts, dict):
        return []
    rows = []
    for name, info in parts.items():
        info = info if isinstance(info, dict) else {"tier": str(info)}
        extra = {k: v for k, v in info.items() if k not in ("tier", "version")}
        rows.append({
            "name": str(name),
            "tier": str(info.get("tier", "?")),
            "version": str(info.get("version", "")),
            "details": ", ".join(f"{k}={v}" for k, v in extra.items()),
        })
    return rows


def _check_row(c: dict[str, Any]) -> dict[str, Any]:
    violations = [v for v in c.get("violations", []) if isinstance(v, dict)]
    return {
        "checker": str(c.get("checker", "?")),
        "description": description(str(c.get("checker"))),
        "validity": str(c.get("validity", "unknown")),
        "severity": str(c.get("severity", "error")),
        "summary": str(c.get("summary", "")),
        "violations": len(violations),
        "because": [str(v.get("because", "")) for v in violations],
        "stats": c.get("stats") if isinstance(c.get("stats"), dict) else {},
    }


def _violations(
    checks: list[dict[str, Any]], ops: list[Operation], run: RunFiles
) -> dict[str, Any]:
    """Violations grouped per payment (one timeline each); the rest listed without a picture."""
    by_payment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unattributed: list[dict[str, Any]] = []
    for c in _sorted_checks(checks):
        for v in c.get("violations", []):
            if not isinstance(v, dict):
                continue
            item = {"checker": str(v.get("checker") or c.get("checker")),
                    "severity": str(c.get("severity", "error")),
                    "because": str(v.get("because", "")), "raw": v}
            pid = v.get("payment_id")
            if pid:
                by_payment[str(pid)].append(item)
            else:
                unattributed.append({k: item[k] for k in ("checker", "severity", "because")})
    # Only the payments with a finding are drawn: group theirs, not a million others'.
    ops_by_pid: dict[str, list[Operation]] = {pid: [] for pid in by_payment}
    for op in ops:
        if op.payment_id in ops_by_pid:
            ops_by_pid[op.payment_id].append(op)
    ledger_by_pid: dict[str, list[dict[str, Any]]] = {pid: [] for pid in by_payment}
    for entry in run.ledger:
        pid = entry.get("payment_id")
        if pid and str(pid) in ledger_by_pid:
            ledger_by_pid[str(pid)].append(entry)
    db_by_pid = {str(r.get("id")): r for r in run.db or [] if str(r.get("id")) in by_payment}
    shown: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    # Errors before warnings: a reviewer must see the double charge before the advice.
    order = sorted(by_payment, key=lambda p: min(i["severity"] != "error" for i in by_payment[p]))
    for pid in order:
        items = by_payment[pid]
        row: dict[str, Any] = {
            "payment_id": pid,
            "checkers": list(dict.fromkeys(i["checker"] for i in items)),
            "because": [{k: i[k] for k in ("checker", "severity", "because")} for i in items],
        }
        if len(shown) >= MAX_TIMELINES or run.unread_bytes:  # no ops to draw a timeline of
            listed.append(row)
            continue
        highlight = frozenset(
            e["index"] for i in items for e in i["raw"].get("operations", [])
            if isinstance(e, dict) and isinstance(e.get("index"), int)
        )
        timeline = build_timeline(pid, ops_by_pid.get(pid, []), ledger_by_pid.get(pid, []),
                                  db_by_pid.get(pid), highlight)
        row["timeline"] = timeline
        row["evidence"] = _evidence(ops_by_pid.get(pid, []), ledger_by_pid.get(pid, []),
                                    timeline["t0_wall"])
        shown.append(row)
    return {
        "violations": shown,
        "violations_listed": listed,
        "violations_unattributed": unattributed,
    }


def _evidence(ops: list[Operation], ledger: list[dict[str, Any]], t0: float) -> dict[str, Any]:
    """The rows behind a timeline, in time order, for the table under the picture."""
    op_rows = [{
        "index": op.index,
        "t_ms": round((op.start_wall - t0) * 1000.0, 1),
        "latency_ms": None if op.latency_s is None else round(op.latency_s * 1000.0, 1),
        "process": op.process,
        "f": op.f,
        "outcome": op.outcome,
        "key": op.idempotency_key,
        "detail": _detail(op),
    } for op in sorted(ops, key=lambda o: o.start_wall)]
    ledger_rows = [{
        "seq": e.get("seq"),
        "t_ms": round((float(e.get("time", t0)) - t0) * 1000.0, 1),
        "kind": e.get("kind"),
        "what": (f"{e.get('method', '')} {e.get('path', '')} → {e.get('status')}"
                 if e.get("kind") == "request" else f"{e.get('id')} {e.get('amount')}"
                 f" {e.get('currency', '')}"),
        "key": e.get("idempotency_key"),
        "replayed": bool(e.get("replayed")),
        "fault": e.get("fault"),
    } for e in sorted(ledger, key=lambda e: e.get("seq", 0))]
    return {"operations": op_rows, "ledger": ledger_rows}


def _detail(op: Operation) -> str:
    if op.error:
        return "; ".join(f"{k}={v}" for k, v in op.error.items() if v is not None)
    if isinstance(op.value, dict):
        keys = ("status", "charge_id")
        return ", ".join(f"{k}={op.value[k]}" for k in keys if op.value.get(k) is not None)
    return ""


def _counts(ops: list[Operation], run: RunFiles) -> dict[str, Any]:
    requests = [e for e in run.ledger if e.get("kind") == "request"]
    return {
        "operations": len(ops),
        "outcomes": dict(Counter(op.outcome for op in ops)),
        "payments": len({op.payment_id for op in ops} - {None, ""}),
        "charges": len(money_charges(run.ledger)),
        "requests": len(requests),
        "replays": sum(1 for e in requests if e.get("replayed")),
    }


def _summary_counts(run: RunFiles) -> dict[str, Any] | None:
    """The run's counts from summary.json's stats, when its evidence was too large to read
    (None otherwise: they are counted from the evidence)."""
    if not run.unread_bytes:
        return None
    stats = run.summary.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    outcomes: dict[str, int] = defaultdict(int)
    if isinstance(stats.get("outcomes"), dict):
        for name, n in stats["outcomes"].items():  # "f:outcome" -> count
            if isinstance(n, int):
                outcomes[str(name).rpartition(":")[2]] += n
    return {"operations": stats.get("operations", "?"), "outcomes": dict(outcomes),
            "payments": stats.get("payments", "?"), "charges": stats.get("charges", "?"),
            "requests": stats.get("provider_requests", "?"), "replays": "?"}


def _faults(faults: Any, ledger: list[dict[str, Any]], origin: float | None) -> dict[str, Any]:
    """Faults on the run's clock (s since start): armed by the nemesis, applied by the provider."""
    armed = []
    for f in faults if isinstance(faults, list) else []:
        if not isinstance(f, dict):
            continue
        t = _float(f.get("time"))
        if t is None:
            continue
        if t > 1e9 and origin is not None:  # an epoch time: put it on the run's clock
            t -= origin
        detail = ", ".join(f"{k}={v}" for k, v in f.items() if k not in ("time", "action"))
        armed.append({"t_s": round(t, 6), "action": str(f.get("action", "fault")),
                      "detail": detail, "until_s": _float(f.get("until"))})
    applied = []
    if origin is not None:
        applied = [
            {"t_s": round(float(e["time"]) - origin, 6), "fault": str(e["fault"]),
             "payment_id": e.get("payment_id")}
            for e in ledger
            if e.get("kind") == "request" and e.get("fault") and _float(e.get("time")) is not None
        ]
    return {"armed": armed, "applied": applied}


def _locust(tables: dict[str, CsvTable], origin: float | None) -> dict[str, Any]:
    """Locust's CSVs as tables; every key is always there (None when its file is absent)."""
    out: dict[str, Any] = {"stats": None, "failures": None, "history": None}
    stats = tables.get(LOCUST_STATS)
    if stats and stats.header:
        keep = [i for i, h in enumerate(stats.header) if h in LOCUST_COLUMNS]
        out["stats"] = {"header": [stats.header[i] for i in keep],
                        "rows": [[_tidy(r[i]) if i < len(r) else "" for i in keep]
                                 for r in stats.rows]}
    failures = tables.get(LOCUST_FAILURES)
    if failures and failures.rows:
        out["failures"] = {"header": failures.header[:4], "rows": [r[:4] for r in failures.rows]}
    history = tables.get(LOCUST_HISTORY)
    if history and history.rows and origin is not None:
        out["history"] = _locust_history(history, origin)
    return out


def _tidy(cell: str) -> str:
    """Locust writes averages with 15 decimals; two are enough to read."""
    if "." not in cell:
        return cell
    value = _float(cell)
    return cell if value is None else f"{value:.2f}"


def _locust_history(table: CsvTable, origin: float) -> dict[str, list[float | None]]:
    """Locust's own per-second aggregate series, moved onto the run's clock."""
    col = {h: i for i, h in enumerate(table.header)}
    series: dict[str, list[float | None]] = {"t": [], "rps": [], "fps": [], "p50": [], "p95": []}
    for row in table.rows:
        if len(row) != len(table.header) or row[col.get("Name", 3)] != "Aggregated":
            continue
        ts = _float(row[col["Timestamp"]]) if "Timestamp" in col else None
        if ts is None:
            continue
        series["t"].append(ts - origin)
        for key, name in (("rps", "Requests/s"), ("fps", "Failures/s"), ("p50", "50%"),
                          ("p95", "95%")):
            series[key].append(_float(row[col[name]]) if name in col else None)
    return series


def _notes(run: RunFiles, approximate: bool = False) -> list[str]:
    extra = run.summary.get("notes")
    notes = [str(n) for n in extra] if isinstance(extra, list) else []
    if run.unread_bytes:
        notes.append(
            f"The evidence files hold {run.unread_bytes / 2**30:.2f} GiB, more than this report "
            "reads into memory: this page shows the verdict, each checker's findings and the "
            "counts from summary.json, which judged all of it; per-payment timelines, the charts "
            "over time and the latency table are left out. Each violation's evidence is in "
            "summary.json.")
        return notes
    for name in ("history.jsonl", "ledger.jsonl"):
        if name not in run.present:
            notes.append(f"{name} is missing: the parts of the report built from it are empty.")
        elif run.skipped_lines.get(name):
            n = run.skipped_lines[name]
            notes.append(f"{name}: {n} unreadable line{'s' if n > 1 else ''} skipped "
                         "(a torn last line after a crash is expected).")
    if run.db is None:
        notes.append("db.json is missing: payment statuses come from client reads only.")
    if approximate:
        notes.append(
            "history.jsonl carries no wall clock (`wall`), so the client's operations and the "
            "provider's ledger cannot be set on one clock exactly: the timelines place the "
            "first ledger entry at the first operation, and the offsets between operations "
            "and ledger entries are approximate. Write `wall` (epoch seconds) with each op to "
            "see them exactly (docs/CONTRACTS.md, History).")
    return notes


def _float(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return None
