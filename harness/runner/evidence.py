"""After the load: quiesce the target, run its reconciler, collect history, ledger and DB rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from harness.history import HistoryRecorder, Op, Outcome, load_history
from harness.jsonl import read_jsonl
from harness.runner.parts import merge_parts, part_path, part_paths
from harness.runner.stack import Stack
from harness.targets.admin import TargetAdmin
from harness.targets.settle import Settled, is_settled, settle
from harness.targets.standin import ChargedPayments, drain_webhooks, entries_since
from harness.targets.view import HttpReader, scope_rows, sql_rows

# The ledger must be this still before the target counts as quiet.
QUIET_S = 0.6
RECONCILE_TIMEOUT_S = 120.0


def ledger_since(stack: Stack, cursor: int | None = None) -> list[dict[str, Any]]:
    """Every ledger entry this run produced (a shared stand-in's older entries are not ours)."""
    position = stack.ledger_cursor if cursor is None else cursor
    return entries_since(stack.admin, position)[0]


# How long the end of a run follows retries of webhook deliveries the service failed.
RETRY_DRAIN_S = 3.0


def quiesce(stack: Stack, *, hold_s: float, max_wait_s: float = 20.0) -> dict[str, Any]:
    """Stop every fault, then wait until no request is still on its way through the target.

    `hold_s` is how long the scenario's faults may hold a provider response (a `hang_after`):
    a request that was held is still in the target until then, so it is waited for too.
    """
    nemesis = stack.nemesis(("provider", "failpoints"))
    try:
        healed = nemesis.heal()  # the stand-in's faults also free requests held at a gate
    finally:
        nemesis.ctx.close()
    notes: dict[str, Any] = {"faults_cleared": healed["provider"]}
    if str(healed["failpoints"]).startswith("failed"):
        notes["failpoints_cleared"] = healed["failpoints"]
    started = time.monotonic()
    cursor, last_change, hold_until = stack.ledger_cursor, time.monotonic(), 0.0
    while time.monotonic() - started < max_wait_s:
        try:
            page = stack.admin.ledger(cursor, 5000)
        except Exception:
            break
        now = time.monotonic()
        if page["entries"]:
            cursor, last_change = int(page["next_cursor"]), now
            for entry in page["entries"]:
                if "hang_after" in str(entry.get("fault") or ""):
                    # Held from the moment it executed; ledger times are the stand-in's wall clock.
                    held = hold_s - max(0.0, time.time() - float(entry.get("time") or 0.0))
                    hold_until = max(hold_until, now + held)
            continue
        if now - last_change >= QUIET_S and now >= hold_until + QUIET_S:
            break
        time.sleep(0.15)
    # Webhook deliveries still owed (a delay, a retry, one held back) may make the service act:
    # a handler that records an outcome, or one that charges again.
    try:
        owed = drain_webhooks(stack.admin, max(0.0, max_wait_s - (time.monotonic() - started)),
                              retry_budget_s=RETRY_DRAIN_S)
    except Exception as exc:
        notes["webhooks"] = f"failed: {exc}"
    else:
        if owed:
            notes["webhooks_owed"] = owed
    notes["waited_s"] = round(time.monotonic() - started, 3)
    return notes


def reconcile(stack: Stack, history: Path | None, origin: float) -> dict[str, Any] | None:
    """Ask the target's reconciler to finish every payment left `processing` (leases ignored).

    Recorded as a `reconcile` operation; returns None when the target offers no reconciler.
    """
    recorder = (HistoryRecorder(part_path(history), origin=origin, keep=False)
                if history is not None else None)
    invoke = recorder.invoke("runner", "reconcile") if recorder is not None else None
    try:
        response = httpx.post(f"{stack.target_url}/_admin/reconcile", json={"force": True},
                              timeout=RECONCILE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        if recorder is not None and invoke is not None:
            recorder.complete(invoke, "info", error={"kind": "exception", "status": None,
                                                     "message": str(exc)[:300]})
            recorder.close()
        return {"error": str(exc)}
    if response.status_code in (404, 405):
        if recorder is not None and invoke is not None:
            recorder.complete(invoke, "fail", error={"kind": "rejected", "status": 404,
                                                     "message": "no reconciler on this target"})
            recorder.close()
        return None
    body = _json(response)
    if recorder is not None and invoke is not None:
        outcome: Outcome = "ok" if response.status_code == 200 else "info"
        recorder.complete(invoke, outcome, value=body if isinstance(body, dict) else None,
                          error=None if outcome == "ok" else {
                              "kind": "server_error", "status": response.status_code,
                              "message": response.text[:300]})
        recorder.close()
    return body if isinstance(body, dict) and response.status_code == 200 else {
        "error": f"HTTP {response.status_code}"}


def created_payments(ops: list[Op]) -> set[str]:
    """Ids of the payments this run created: the only ones its evidence is about."""
    return {str(op.value["id"]) for op in ops
            if op.f == "create" and op.type == "ok" and isinstance(op.value, dict)
            and op.value.get("id") is not None}


def settle_and_view(stack: Stack, created: set[str] | None,
                    budget_s: float) -> tuple[Settled, list[dict[str, Any]] | None]:
    """Wait until the run's payments settle, then take the database view by the ladder.

    Without a recorded history (benchmark mode) payrace knows no payment: a reference
    target's fresh database is read whole, a foreign one not at all.
    """
    abilities = stack.abilities
    if created is None:
        whole: list[dict[str, Any]] | None = None
        if stack.reference:
            with TargetAdmin(stack.target_url) as admin:
                whole = admin.snapshot()
        return Settled(budget_s=budget_s), whole
    ids = sorted(created)
    # After the target's own forced reconcile nothing else moves a pending row; without one,
    # a charged pending payment may still be recorded by the service's background work.
    pending_final = abilities.reconcile
    charged = ChargedPayments(stack.admin, stack.ledger_cursor, created)
    reader = (
        HttpReader(stack.target_url, adapter=stack.adapter) if abilities.view == "reads" else None
    )

    def view(asked: list[str]) -> dict[str, dict[str, Any]]:
        if reader is not None:
            return reader(asked)
        return {str(r.get("id")): r for r in scope_rows(_view_rows(stack), created)}

    deadline = time.monotonic() + budget_s
    try:
        while True:
            settled = settle(view, ids, budget_s=max(0.0, deadline - time.monotonic()),
                             charged=charged, pending_final=pending_final)
            rows = settled.rows if reader is not None else view(ids)
            # A charge may land between the last read and the ledger's: catch the view up.
            money = charged()
            behind = [p for p in ids if money.get(p)
                      and not is_settled(rows.get(p), pending_final=pending_final)]
            if not behind or time.monotonic() >= deadline:
                break
    finally:
        if reader is not None:
            reader.close()
    return settled, [rows[p] for p in ids if p in rows]


def _view_rows(stack: Stack) -> list[dict[str, Any]]:
    abilities = stack.abilities
    if abilities.view == "snapshot":
        with TargetAdmin(stack.target_url) as admin:
            return admin.snapshot() or []
    assert abilities.database_url is not None and abilities.db_query is not None
    return sql_rows(abilities.database_url, abilities.db_query)


def collect_history(history: Path | None) -> list[Op]:
    """Merge every process's part into the one history file and load it."""
    if history is None:
        return []
    # Only several Locust processes leave parts; merging none would read the history twice.
    if part_paths(history):
        merge_parts(history)
    return list(load_history(history)) if history.is_file() else []


def read_faults(path: Path) -> list[dict[str, Any]]:
    """The faults the scenario logged (time on the run's clock, action, details)."""
    if not path.is_file():
        return []
    # A scenario's log is a courtesy, not evidence: a damaged line is skipped, never fatal.
    return list(read_jsonl(path, "fault", skip_damaged=True))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
