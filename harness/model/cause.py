"""Why a violation happened, in one sentence, from the example's steps and the ledger."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.ledger import is_money_charge
from harness.model.checks import PaymentViolation
from harness.model.environment import Example, StepRecord

LOST_RESPONSE_FAULTS = ("drop_after", "error_after", "hang_after")
# Failpoints that break a worker after the provider charged: the charge is never recorded.
FAILED_COMMIT_POINTS = ("after_charge", "before_commit")
FAILED_COMMIT_ACTIONS = ("crash", "drop_connection", "kill_workers")


@dataclass(frozen=True)
class Cause:
    """`kind` is a stable word for tests and reports; `sentence` says it to a person."""

    kind: str
    sentence: str
    steps: list[int] = field(default_factory=list)  # 1-based step numbers involved

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sentence": self.sentence, "steps": list(self.steps)}


def _describe_step(step: StepRecord) -> str:
    detail = step.detail
    if step.rule == "charge":
        workers = detail.get("workers") or []
        what = f"charge ({len(workers)} request{'s' if len(workers) != 1 else ''}"
        return what + f", key {detail.get('key')})"
    if step.rule == "retry":
        return f"retry (key {detail.get('key')})"
    return step.rule


def _failed_commit(step: StepRecord) -> str | None:
    failpoint = step.detail.get("failpoint")
    if not isinstance(failpoint, str) or ":" not in failpoint:
        return None
    point, action = failpoint.split(":", 1)
    if point in FAILED_COMMIT_POINTS and action in FAILED_COMMIT_ACTIONS:
        return failpoint
    return None


def _redelivered(
    example: Example, payment_id: str, charged_at: int
) -> tuple[str, int, str] | None:
    """An event for the payment that reached the service more than once: its type, how many
    times it was answered, and the delivery faults at play ("" for a plain retry).

    A delivery is in the ledger once answered, so after whatever its handler charged: of the
    repeated events, the one whose delivery was the first answered after the second charge
    (ledger seq `charged_at`) is the one that charged; a service subscribed to every event
    gets other repeated ones (`payment_intent.created`) that charged nothing."""
    # Per endpoint: another service subscribed to the same stand-in gets its own copies.
    answered: Counter[tuple[str, str]] = Counter()
    kinds: dict[str, str] = {}
    faults: dict[str, set[str]] = {}
    after: list[str] = []  # events answered after the second charge, in ledger order
    for entry in example.ledger:
        if entry.get("kind") != "webhook" or entry.get("payment_id") != payment_id:
            continue
        event = str(entry.get("event"))
        kinds[event] = str(entry.get("type"))
        if entry.get("fault"):
            faults.setdefault(event, set()).update(str(entry["fault"]).split("+"))
        if entry.get("status") is not None:
            answered[(event, str(entry.get("endpoint")))] += 1
            if int(entry.get("seq", 0)) > charged_at:
                after.append(event)
    repeated = {event: n for (event, _), n in answered.items() if n > 1}
    if not repeated:
        return None
    event = next((e for e in after if e in repeated), next(iter(repeated)))
    times = repeated[event]
    return kinds[event], times, "+".join(sorted(faults.get(event, ())))


def diagnose(example: Example, violation: PaymentViolation, workers: int) -> Cause:
    """Classify a violation: a race, or a lost answer / failed commit followed by a retry."""
    result = violation.result
    first = result.violations[0] if result.violations else None
    if result.checker != "no-duplicate-charge" or first is None or first.payment_id is None:
        because = first.because if first is not None else result.summary
        return Cause(result.checker, because)
    payment_id = first.payment_id
    charges = sorted(
        (
            e
            for e in example.ledger
            if is_money_charge(e) and e.get("payment_id") == payment_id
        ),
        key=lambda e: int(e.get("seq", 0)),
    )
    if len(charges) < 2:
        return Cause("other", first.because)
    one, two = charges[0], charges[1]
    step_a = example.charge_step.get(int(one["seq"]), 0)
    step_b = example.charge_step.get(int(two["seq"]), step_a)
    rec_a, rec_b = example.steps[step_a], example.steps[step_b]
    request = next(
        (
            e
            for e in example.ledger
            if e.get("kind") == "request" and e.get("request_id") == one.get("request_id")
        ),
        {},
    )
    fault = str(request.get("fault") or "")
    lost = next((f for f in LOST_RESPONSE_FAULTS if f in fault.split("+")), None)
    redelivered = None if lost else _redelivered(example, payment_id, int(two.get("seq", 0)))
    if redelivered is not None:
        kind, times, how = redelivered
        armed = next((i for i, st in enumerate(example.steps) if st.rule == "webhooks"), None)
        where = f"step {armed + 1}, webhooks: " if armed is not None else ""
        why = f" ({where}{how})" if how else " (retried after an error or a timeout)"
        sentence = (
            f"after step {step_a + 1}, {_describe_step(rec_a)}, the provider delivered its "
            f"{kind} event to the service {times} times{why}, as Stripe may, and the service "
            "charged the card again on a later delivery: its webhook handler acts once per "
            "delivery, not once per event"
        )
        involved = sorted({step_a + 1, step_b + 1} | ({armed + 1} if armed is not None else set()))
        return Cause("webhook-redelivery", sentence, involved)
    commit = None if lost else _failed_commit(rec_a)
    if step_b == step_a:
        again = (
            "another request sent in the same step (it had waited for the first) "
            "then charged it again"
        )
    else:
        again = f"step {step_b + 1}, {_describe_step(rec_b)}, then charged it again"
    if lost is not None:
        # A lagging search is why a service that looks before charging again saw nothing.
        unseen = " and search did not show it yet (search_lag)" if "search_lag" in fault else ""
        sentence = (
            f"step {step_a + 1}, {_describe_step(rec_a)}, charged the card but the provider's "
            f"response was lost ({lost}){unseen}, so the service did not record the charge; "
            f"{again}"
        )
        return Cause("lost-response-then-retry", sentence, [step_a + 1, step_b + 1])
    if commit is not None:
        sentence = (
            f"step {step_a + 1}, {_describe_step(rec_a)}, charged the card but the service "
            f"failed to record it (failpoint {commit}); {again}"
        )
        return Cause("failed-commit-then-retry", sentence, [step_a + 1, step_b + 1])
    if step_b == step_a:
        used = sorted({w % workers for w in rec_a.detail.get("workers", [])})
        where = (
            "all on one worker"
            if len(used) == 1
            else "on workers " + ", ".join(f"w{w}" for w in used)
        )
        sentence = (
            f"step {step_a + 1}, {_describe_step(rec_a)}, sent concurrent requests for one "
            f"payment ({where}) and the service let more than one reach the provider"
        )
        return Cause("concurrency", sentence, [step_a + 1])
    sentence = (
        f"step {step_a + 1}, {_describe_step(rec_a)}, charged the card and its outcome stayed "
        f"unknown to the service; {again}"
    )
    return Cause("unknown-outcome-then-retry", sentence, [step_a + 1, step_b + 1])
