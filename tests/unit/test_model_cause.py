"""The webhook-redelivery cause names the event whose repeated delivery charged again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.history import HistoryRecorder
from harness.model.cause import _redelivered
from harness.model.environment import Example


def delivery(seq: int, event: str, kind: str, fault: str | None = None) -> dict[str, Any]:
    return {"seq": seq, "kind": "webhook", "event": event, "type": kind, "endpoint": "we_1",
            "status": 200, "fault": fault, "payment_id": "pay_1"}


def test_the_repeated_event_answered_after_the_second_charge_is_named(tmp_path: Path) -> None:
    """A service subscribed to every event gets `payment_intent.created` twice as well; the
    one that charged is the failure event whose delivery was answered after the charge."""
    example = Example(1, HistoryRecorder(tmp_path / "h.jsonl"), 0.0)
    example.ledger = [
        delivery(2, "evt_created", "payment_intent.created", "webhook_duplicate"),
        delivery(3, "evt_created", "payment_intent.created", "webhook_duplicate"),
        delivery(5, "evt_failed", "payment_intent.payment_failed", "webhook_duplicate"),
        {"seq": 6, "kind": "charge", "payment_id": "pay_1"},
        delivery(7, "evt_failed", "payment_intent.payment_failed", "webhook_duplicate"),
    ]
    assert _redelivered(example, "pay_1", 6) == (
        "payment_intent.payment_failed", 2, "webhook_duplicate")
    example.recorder.close()


def test_no_event_answered_twice_per_endpoint_is_no_redelivery(tmp_path: Path) -> None:
    """Two services subscribed to one stand-in each get one copy: not a redelivery."""
    example = Example(1, HistoryRecorder(tmp_path / "h.jsonl"), 0.0)
    other = delivery(4, "evt_failed", "charge.failed") | {"endpoint": "we_2"}
    example.ledger = [delivery(3, "evt_failed", "charge.failed"), other]
    assert _redelivered(example, "pay_1", 2) is None
    example.recorder.close()
