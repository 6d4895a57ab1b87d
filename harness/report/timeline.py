"""The per-payment timeline model: lanes of client operations, provider events and statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.report.operations import Operation, error_label

# Statuses of DESIGN §4, in the order a payment moves through them.
STATUSES = ("pending", "processing", "completed", "failed")
# What each stand-in fault did, in words short enough to print beside its marker.
FAULT_MEANING = {
    "drop_after": "charged, connection reset",
    "hang_after": "charged, reply held",
    "error_after": "charged, then 500",
    "error_before": "refused, not charged",
    "rate_limit": "429, not charged",
    "latency": "delayed",
    "gate": "held at gate",
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
    charges = [e for e in ledger if e.get("kind") == "charge"]
    charges.sort(key=lambda e: (e.get("seq", 0), e["time"]))
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
        label += f" {fault}" + (f" ({FAULT_MEANING[fault]})" if fault in FAULT_MEANING else "")
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
    """Provider requests, each linked to the client attempt that caused it when that is clear."""
    items = [_request_item(e, clock) for e in ledger if e.get("kind") == "request"]
    walls = [float(e["time"]) for e in ledger if e.get("kind") == "request"]
    for item in items:
        item["caused_by"] = None
    # A client attempt reaches the provider once: link it to the first request executed while
    # it was in flight, and only when no other attempt was in flight then (else it is a guess;
    # a reconciler's re-drive, for one, belongs to no client operation).
    for op in sorted((o for o in ops if o.f == "charge"), key=lambda o: o.start_wall):
        end = op.end_wall if op.end_wall is not None else float("inf")
        for item, wall in zip(items, walls, strict=True):
            if item["caused_by"] is None and op.start_wall <= wall <= end:
                others = [o for o in ops if o is not op and o.f == "charge"
                          and o.start_wall <= wall <= (o.end_wall or float("inf"))]
                if not others:
                    item["caused_by"] = op.index
                break
    return items


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
    """How the payment came to be charged more than once, in the order it happened."""
    attempts = {
        item["index"]: (lane["process"], item) for lane in model["lanes"] for item in lane["items"]
    }
    requests = {r["request_id"]: r for r in model["requests"] if r.get("request_id")}

    def made_for(charge: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        request = requests.get(charge.get("request_id"))
        return attempts.get(request["caused_by"]) if request else None

    sentences = []
    for c in model["charges"]:
        when = f"{short_id(c['id'])} at +{c['t_ms']:.0f} ms"
        cause = made_for(c)
        if c["n"] == 1:
            text = f"The provider charged {when}"
            if cause and cause[1]["outcome"] in ("info", "open"):
                text += f", but {cause[0]}'s {cause[1]['name']} ended {_said(cause[1])}"
        else:
            text = f"then came the {ordinal(c['n'])} charge, {when}"
            if cause:
                text += f", made for {cause[0]}'s {cause[1]['name']} ({_said(cause[1])})"
        sentences.append(text)
    story = f"{model['payment_id']}: " + "; ".join(sentences) + "."
    db = model["db"]
    if db and db.get("charge_id"):
        lost = [short_id(c["id"]) for c in model["charges"] if c["recorded"] is False]
        story += f" The database records {db['status']} with {short_id(str(db['charge_id']))}"
        story += f", so {' and '.join(lost)} is money taken but not recorded." if lost else "."
    return story


def _said(item: dict[str, Any]) -> str:
    """An attempt's outcome as the client saw it: `ok`, `info: timeout`, …"""
    return f"{item['outcome']}: {item['short_error']}" if item["short_error"] else item["outcome"]


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)
