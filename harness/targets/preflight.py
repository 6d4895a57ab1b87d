"""Preflight: one payment through the target must reach this stand-in's ledger, or nothing runs."""

from __future__ import annotations

import time
from typing import Any

import httpx

from harness.adapters import Adapter, ContractAdapter
from harness.adapters.judge import AdapterRaised, build, judge
from harness.adapters.send import exchange, send
from harness.errors import ProvisionError
from harness.ledger import is_money_charge
from harness.stripe_standin import StandinAdmin
from harness.targets.standin import entries_since, ledger_end

PREFLIGHT_WAIT_S = 15.0
DEFINITE_WAIT_S = 2.0
PREFLIGHT_AMOUNT = 1000


def preflight(
    target_url: str,
    admin: StandinAdmin,
    *,
    wait_s: float = PREFLIGHT_WAIT_S,
    adapter: Adapter | None = None,
) -> dict[str, Any]:
    """Create and charge one payment; its charge must appear with `metadata[payment_id]`.

    Anything else is a wiring problem, never a violation: ProvisionError (exit 3) naming
    the likely cause. Returns what was seen, for summary.json.
    """
    stand_in = admin.url
    adapter = adapter if adapter is not None else ContractAdapter()
    cursor = ledger_end(admin)
    started = time.monotonic()
    with httpx.Client(base_url=target_url, timeout=10.0) as client:
        payment_id = _create(client, target_url, adapter)
        # A definite answer (ok, fail) leaves nothing running: the charge is there or never
        # will be. Only an unknown one (202, 5xx, no answer) is worth the whole wait.
        key = f"payrace-preflight-{payment_id}"
        # No answer, or the adapter's slip: the ledger still decides.
        charged, outcome = exchange(client, adapter, "charge", payment_id, key,
                                    payment_id=payment_id)
        # Without an answer, the exception's class names it (e.g. ReadTimeout), as before.
        answer = f"HTTP {charged.status}" if charged is not None else str(
            (outcome.error or {}).get("message", "no answer")).split(":")[0]
        if charged is not None and outcome.type != "info":
            wait_s = min(wait_s, DEFINITE_WAIT_S)
        seen: list[dict[str, Any]] = []
        while True:
            new, cursor = entries_since(admin, cursor)
            seen.extend(new)
            mine = [
                e for e in seen
                if is_money_charge(e) and e.get("payment_id") == payment_id
            ]
            if mine:
                return {
                    "payment_id": payment_id,
                    "charge_id": mine[0].get("id"),
                    "answer": answer,
                    "seconds": round(time.monotonic() - started, 3),
                }
            if time.monotonic() - started > wait_s:
                break
            time.sleep(0.2)
    raise ProvisionError(_miswired(target_url, stand_in, payment_id, answer, seen, wait_s))


def _create(client: httpx.Client, target_url: str, adapter: Adapter) -> str:
    try:
        request = build(adapter, "create", PREFLIGHT_AMOUNT, "usd", "payrace-preflight")
        answer = send(client, request)
    except AdapterRaised as exc:
        raise ProvisionError(f"Preflight: {exc}") from None
    except httpx.HTTPError as exc:
        raise ProvisionError(
            f"Preflight: the target at {target_url} did not answer {request.method} "
            f"{request.path} ({type(exc).__name__}: {exc}); start it and pass its base URL "
            "to --target"
        ) from None
    outcome = judge(adapter, "create", answer)
    payment_id = (outcome.value or {}).get("id") if outcome.type == "ok" else None
    if not isinstance(payment_id, str):
        why = (outcome.error or {}).get("message", "")
        raise ProvisionError(
            f"Preflight: {request.method} {request.path} on {target_url} answered HTTP "
            f"{answer.status} {answer.text[:160]!r} ({outcome.type}: {why}); expected the new "
            "payment's id (docs/TARGETS.md; with --adapter, its created() says ok({'id': ...}))"
        )
    return payment_id


def _miswired(
    target_url: str, stand_in: str, payment_id: str, answer: str,
    seen: list[dict[str, Any]], wait_s: float,
) -> str:
    head = (
        f"Preflight: payment {payment_id} was charged through {target_url} ({answer}) but "
        f"within {wait_s:g} s"
    )
    requests = [e for e in seen if e.get("kind") == "request"]
    charges = [e for e in seen if is_money_charge(e)]
    if not requests:
        return (
            f"{head} the stand-in at {stand_in} saw no request at all: the service is wired to "
            f"another Stripe URL; point its Stripe base URL at {stand_in} (docs/TARGETS.md)"
        )
    if charges:
        named = sorted({str(e.get("payment_id")) for e in charges})
        return (
            f"{head} the stand-in charged {len(charges)} time(s) with metadata[payment_id] "
            f"{', '.join(named)}, never {payment_id}: every charge must carry "
            f"metadata[payment_id]=<the payment's id> (docs/TARGETS.md)"
        )
    statuses = sorted({str(e.get("status")) for e in requests})
    first = requests[0]
    refused = next((e for e in requests if e.get("error")), None)
    why = (
        f"; {refused.get('method')} {refused.get('path')} answered {refused.get('status')}: "
        f"{refused.get('error')}"
        if refused is not None
        else ""
    )
    return (
        f"{head} the stand-in saw {len(requests)} request(s) from it and charged nothing "
        f"(answers {', '.join(statuses)}; first {first.get('method')} {first.get('path')}{why}): "
        f"check the API key (sk_test_…), the payment method and the parameters sent"
    )
