"""HttpClient through an adapter, over real HTTP: an adapter's slip is one `info` op, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.adapters import Answer, Request, ok
from harness.clients.http import HttpClient
from harness.history import Classified, HistoryRecorder

pytestmark = pytest.mark.integration


class Slipping:
    """Reads the stand-in's health page as a 'payment', and slips on purpose when charging."""

    def create(self, amount: int, currency: str, customer: str | None) -> Request:
        return Request("GET", "/_standin/health", headers={"X-Amount": str(amount)})

    def created(self, answer: Answer) -> Classified:
        assert answer.request is not None  # the answer knows what it answers
        return ok({"id": f"pay_{answer.request.headers['X-Amount']}"})

    def charge(self, payment_id: str, key: str | None) -> Request:
        if key == "explode":
            raise RuntimeError("the adapter could not build this request")
        return Request("GET", "/_standin/health")

    def charged(self, answer: Answer) -> Classified:
        raise KeyError("stripe_charge")

    def read(self, payment_id: str) -> Request:
        return Request("GET", "/_standin/health")

    def payment(self, answer: Answer) -> Classified:
        return ok({"status": "pending"})


def test_an_adapter_that_raises_makes_that_op_info_never_a_crash(
    standin_url: str, tmp_path: Path
) -> None:
    history = tmp_path / "history.jsonl"
    with HistoryRecorder(history) as recorder:
        client = HttpClient(standin_url, recorder, adapter=Slipping())
        try:
            created = client.create_payment(1234)
            read_error = client.charge("pay_1234", "k1")
            build_error = client.charge("pay_1234", "explode")
            read = client.read("pay_1234")
        finally:
            client.close()
    assert created == ("ok", {"id": "pay_1234"}, None)
    assert read.type == "ok" and read.value == {"status": "pending", "id": "pay_1234"}
    assert read_error.type == "info" and read_error.error is not None
    assert read_error.error["kind"] == "adapter" and read_error.error["status"] == 200
    assert "Slipping.charged() raised KeyError" in read_error.error["message"]
    assert build_error.type == "info" and build_error.error is not None
    assert "Slipping.charge() raised RuntimeError" in build_error.error["message"]
    ops = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(op["type"], op["f"]) for op in ops] == [
        ("invoke", "create"), ("ok", "create"), ("invoke", "charge"), ("info", "charge"),
        ("invoke", "charge"), ("info", "charge"), ("invoke", "read"), ("ok", "read"),
    ]
    assert ops[3]["error"]["kind"] == "adapter"
