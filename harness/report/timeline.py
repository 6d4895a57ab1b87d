"""The per-payment timeline model: lanes of client operations, provider events and statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.ledger import money_charges
from harness.report.operations import Operation, error_label

# Statuses of docs/TARGETS.md, in the order a payment moves through them.
STATUSES = ("pending", "processing", "completed", "failed")
# What each stand-in fault did, in words short enough to print beside its marker; a request
# hit by several rules has them joined with "+" (e.g. "latency+hang_after").
FAULT_MEANING = {
    "drop_after": "charged, connection reset",
    "hang_after": "charged, reply held",
    "error_after": "charged, then 500",
    "error_before": "refused, not charged",
    "rate_limit": "429, not charged",
    "latency": "delayed",
    "gate": "held at gate",
    "search_lag": "hidden from search",
}


def short_id(object_id: str) -> str:
    """`ch_3QabcdEFGHIJKLMNOPQRSTUV` → `ch_3QabcdE…STUV`: enough to tell ids apart on a chart."""
    return object_id if len(object_id) <= 16 else f"{object_id[:10]}…{object_id[-4:]}"


def ordinal(n: int) -> str:
    """1 → '1st', 2 → '2nd', 11 → '11th': how the report names the nth charge of a payment."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class _Clock:
    """Milliseconds since the payment's first event, from epoch seconds."""

    t0: float

    def ms(self, wall: float) -> float:
        return round((wall - self.t0) * 1000.0, 3)


def build_timeline(
    payment_id: str,
    ops: list[Operation],
    ledger: list[dict[str, Any]],
    db_row: dict[str, Any] | None,
    highlight_indices: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """Everything one payment went through, in ms from its first event, as a plain dict."""
    ledger = [e for e in ledger if _num(e.get("time"))]
    starts = [op.start_wall for op in ops] + [float(e["time"]) for e in ledger]
    clock = _Clock(min(starts) if starts else 0.0)
    ends = starts + [op.end_wall for op in ops if op.end_wall is not None]
    span_ms = max(1.0, clock.ms(max(ends))) if ends else 1.0

    db_charge = db_row.get("charge_id") if db_row else None
    lanes: dict[str, list[dict[str, Any]]] = {}
    attempts: dict[str, int] = {}
    for op in sorted(ops, key=lambda o: o.start_wall):
        attempts[op.f] = attempts.get(op.f, 0) + 1
        item = _op_item(op, attempts[op.f], clock, span_ms, op.index in highlight_indices)
        lanes.setdefault(op.process, []).append(item)
    charges = money_charges(sorted(ledger, key=lambda e: (e.get("seq", 0), e["time"])))
    model: dict[str, Any] = {
        "payment_id": payment_id,
        "t0_wall": clock.t0,
        "span_ms": round(span_ms, 3),
        "lanes": [
            {"label": f"client {proc}", "process": proc, "items": items}
            for proc, items in lanes.items()
        ],
        "requests": _requests(ledger, ops, clock),
        "charges": [
            _charge_item(e, n, clock, db_charge, several=len(charges) > 1)
            for n, e in enumerate(charges, start=1)
        ],
        "refunds": [_refund_item(e, clock) for e in ledger if e.get("kind") == "refund"],
        "status": _status_points(ops, clock),
        "db": {"status": db_row.get("status"), "charge_id": db_charge} if db_row else None,
    }
    model["caption"] = caption(model)
    return model


def _op_item(
    op: Operation, attempt: int, clock: _Clock, span_ms: float, highlight: bool
) -> dict[str, Any]:
    why = "no response recorded" if op.outcome == "open" else error_label(op.error)
    name = f"{op.f} #{attempt}" if op.f == "charge" else op.f
    detail = f"{op.outcome}: {why}" if why else op.outcome
    value = op.value if isinstance(op.value, dict) else {}
    if op.f == "read" and op.outcome == "ok" and value.get("status"):
        detail = str(value["status"])
    elif op.outcome == "ok" and value.get("charge_id"):
        detail += f" ({short_id(str(value['charge_id']))})"
    start = clock.ms(op.start_wall)
    end = clock.ms(op.end_wall) if op.end_wall is not None else span_ms
    lines = [f"{op.f} by {op.process} (history index {op.index}): {op.outcome}"]
    if op.end_wall is not None:
        lines.append(f"invoke +{start:.1f} ms → completion +{end:.1f} ms ({end - start:.1f} ms)")
    else:
        lines.append(f"invoke +{start:.1f} ms, never completed")
    if op.idempotency_key is not None:
        lines.append(f"Idempotency-Key: {op.idempotency_key}")
    if op.error:
        lines.append("error: " + ", ".join(f"{k}={v}" for k, v in op.error.items()))
    return {
        "index": op.index,
        "f": op.f,
        "outcome": op.outcome,
        "start_ms": start,
        "end_ms": end,
        "label": f"{name} · {detail}",
        "name": name,
        "detail": detail,
        "short_error": why,
        "title": "\n".join(lines),
        "highlight": highlight,
    }


def _request_item(entry: dict[str, Any], clock: _Clock) -> dict[str, Any]:
    status = entry.get("status")
    fault = entry.get("fault")
    replayed = bool(entry.get("replayed"))
    if replayed:
        kind, label = "replay", f"replay {status}"
    elif status == 409:
        kind, label = "in_use", "409 in use"
    else:
        kind, label = "request", str(status)
    if fault:
        meanings = [FAULT_MEANING[f] for f in str(fault).split("+") if f in FAULT_MEANING]
        label += f" {fault}" + (f" ({'; '.join(meanings)})" if meanings else "")
    lines = [
        f"ledger #{entry.get('seq')}: {entry.get('method', 'POST')} {entry.get('path', '')}"
        f" → {status}{' (replayed)' if replayed else ''}",
        f"Idempotency-Key: {entry.get('idempotency_key')}",
        f"request {entry.get('request_id')}",
    ]
    if fault:
        lines.append(f"fault injected: {fault}")
    return {
        "t_ms": clock.ms(float(entry["time"])),
        "kind": kind,
        "status": status,
        "fault": fault,
        "label": label,
        "title": "\n".join(lines),
        "seq": entry.get("seq"),
        "request_id": entry.get("request_id"),
    }


def _requests(
    ledger: list[dict[str, Any]], ops: list[Operation], clock: _Clock
) -> list[dict[str, Any]]:
    """Provider requests, each linked to the client attempt behind it when only one can be."""
    entries = [e for e in ledger if e.get("kind") == "request"]
    items = [_request_item(e, clock) for e in entries]
    attempts = [o for o in ops if o.f == "charge"]
    linked: set[int] = set()
    for item, entry in sorted(zip(items, entries, strict=True), key=lambda p: float(p[1]["time"])):
        candidates = _possible_causes(float(entry["time"]), attempts)
        # One attempt reaches the provider once, so it links to its first request only; and
        # a request with several possible causes stays unlinked rather than guessed.
        if len(candidates) == 1 and candidates[0].index not in linked:
            item["caused_by"] = candidates[0].index
            linked.add(candidates[0].index)
        else:
            item["caused_by"] = None
    return items


def _possible_causes(wall: float, attempts: list[Operation]) -> list[Operation]:
    """Attempts that may have sent a request at `wall`: in flight then, or earlier ones whose
    outcome is unknown — the target may still be working on an attempt its client gave up on."""
    return [
        a for a in attempts
        if a.start_wall <= wall
        and (a.end_wall is None or wall <= a.end_wall or a.outcome in ("info", "open"))
    ]


def _charge_item(
    entry: dict[str, Any], n: int, clock: _Clock, db_charge: Any, several: bool
) -> dict[str, Any]:
    cid = str(entry.get("id", "?"))
    recorded = None if db_charge is None else cid == db_charge
    shown = short_id(cid)
    lines = [
        f"{ordinal(n)} charge {cid}: {entry.get('amount')} {entry.get('currency', '')}"
        f" ({entry.get('object', 'charge')}, ledger #{entry.get('seq')})",
        f"Idempotency-Key: {entry.get('idempotency_key')}",
    ]
    if recorded is False:
        lines.append(f"not the charge the database recorded ({db_charge})")
    return {
        "t_ms": clock.ms(float(entry["time"])),
        "id": cid,
        "n": n,
        "duplicate": n > 1,
        "recorded": recorded,
        "label": f"{ordinal(n)} charge · {shown}" if several else f"charge · {shown}",
        "title": "\n".join(lines),
        "amount": entry.get("amount"),
        "currency": entry.get("currency"),
        "request_id": entry.get("request_id"),
    }


def _refund_item(entry: dict[str, Any], clock: _Clock) -> dict[str, Any]:
    rid = str(entry.get("id", "?"))
    return {
        "t_ms": clock.ms(float(entry["time"])),
        "id": rid,
        "label": f"refund {rid}",
        "title": f"refund {rid} of {entry.get('charge')} ({entry.get('amount')})",
    }


def _status_points(ops: list[Operation], clock: _Clock) -> list[dict[str, Any]]:
    """Status changes the clients observed: completions whose response carries a status."""
    points: list[dict[str, Any]] = []
    done = sorted((op for op in ops if op.end_wall is not None), key=lambda o: o.end_wall or 0.0)
    for op in done:
        status = op.value.get("status") if isinstance(op.value, dict) else None
        if status not in STATUSES or (points and points[-1]["status"] == status):
            continue
        source = f"{op.f} by {op.process}"
        points.append({"t_ms": clock.ms(op.end_wall or 0.0), "status": status, "source": source})
    return points


def caption(model: dict[str, Any]) -> str:
    """Plain sentences a reviewer can read instead of the picture."""
    if len(model["charges"]) > 1:
        return duplicate_story(model)
    charges = model["charges"]
    plural = "" if len(charges) == 1 else "s"
    head = f"{model['payment_id']}: {len(charges)} charge{plural} at the provider"
    if charges:
        head += " (" + ", ".join(
            f"{c['id']} at +{c['t_ms']:.0f} ms"
            + (f" = {ordinal(c['n'])} charge" if c["duplicate"] else "")
            for c in charges
        ) + ")"
    parts = [head]
    client = [
        f"{item['label']} on {lane['process']}"
        for lane in model["lanes"]
        for item in lane["items"]
        if item["f"] == "charge"
    ]
    if client:
        parts.append("client saw " + "; ".join(client))
    if model["db"]:
        parts.append(f"database: {model['db']['status']}, charge_id {model['db']['charge_id']}")
    return ". ".join(parts) + "."


def duplicate_story(model: dict[str, Any]) -> str:
    """How the payment came to be charged more than once, in the order it happened.

    It says what overlapped in time, never which attempt caused a charge: a target can keep
    working on an attempt after its client gave up, so timing alone cannot tell.
    """
    attempts = sorted(
        ((lane["process"], item) for lane in model["lanes"] for item in lane["items"]
         if item["f"] == "charge"),
        key=lambda pair: pair[1]["start_ms"],
    )
    charges = model["charges"]
    first = charges[0]
    story = f"{model['payment_id']}: the provider charged {short_id(first['id'])} at "
    story += f"+{first['t_ms']:.0f} ms"
    during = [(p, a) for p, a in attempts if a["start_ms"] <= first["t_ms"] <= a["end_ms"]]
    if len(during) == 1:
        process, attempt = during[0]
        story += f", during {process}'s {attempt['name']}, which ended {_said(attempt)}"
    elif during:
        story += f", while {len(during)} attempts were in flight ({_attempts_said(during)})"
    retries = [(p, a) for p, a in attempts
               if first["t_ms"] < a["start_ms"] <= charges[-1]["t_ms"]]
    if retries:
        story += ". The client tried again (" + _attempts_said(retries) + ")"
    story += (" and the provider charged again: " if retries else ", and again: ") + ", ".join(
        f"the {ordinal(c['n'])} charge, {short_id(c['id'])} at +{c['t_ms']:.0f} ms"
        for c in charges[1:]
    ) + "."
    db = model["db"]
    if db and db.get("charge_id"):
        lost = [short_id(c["id"]) for c in charges if c["recorded"] is False]
        story += f" The database records {db['status']} with {short_id(str(db['charge_id']))}"
        story += f", so {' and '.join(lost)} is money taken but not recorded." if lost else "."
    return story


def _attempts_said(attempts: list[tuple[str, dict[str, Any]]]) -> str:
    if len(attempts) > 4:  # a retry storm: count, do not list
        outcomes: dict[str, int] = {}
        for _, a in attempts:
            outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
        return f"{len(attempts)} attempts: " + ", ".join(f"{n} {o}" for o, n in outcomes.items())
    return "; ".join(f"{a['name']} on {p}: {_said(a)}" for p, a in attempts)


def _said(item: dict[str, Any]) -> str:
    """An attempt's outcome as the client saw it: `ok`, `info: timeout`, …"""
    return f"{item['outcome']}: {item['short_error']}" if item["short_error"] else item["outcome"]


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)
