"""The in-process client drives real variants: outcomes by the law, a crash abandons the worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.clients import InProcessClient
from harness.history import HistoryRecorder, load_history, pair_operations
from harness.model.targets import TargetSpec
from harness.stripe_standin import StandinAdmin
from reference_impl.inprocess_target import ReferenceTarget

pytestmark = pytest.mark.integration


@pytest.fixture()
def target(postgres_url: str, standin: str) -> Iterator[ReferenceTarget]:
    reference = ReferenceTarget(TargetSpec("reference", "pr145"), postgres_url, standin, 2)
    reference.reset()
    yield reference
    reference.close()


def _client(target: ReferenceTarget, recorder: HistoryRecorder, index: int = 0) -> InProcessClient:
    client = target.clients()[index]
    assert isinstance(client, InProcessClient)
    client.recorder = recorder
    return client


def _new_payment(client: InProcessClient) -> str:
    """Create a 1000-cent payment through the client; its id (the create must be ok)."""
    created = client.create_payment(1000)
    assert created.type == "ok" and created.value is not None
    return str(created.value["id"])


def test_a_charge_is_ok_then_a_second_one_fails_with_409(
    target: ReferenceTarget, tmp_path: Path
) -> None:
    """200 completed is ok with its charge id; charging a completed payment is a definite fail."""
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = _client(target, recorder)
        payment_id = _new_payment(client)
        first = client.charge(payment_id, "k1")
        second = client.charge(payment_id, "k1", process="w0.1")
    assert first.type == "ok" and first.value is not None and first.value["charge_id"]
    assert second.type == "fail" and second.error is not None
    assert second.error["kind"] == "conflict"
    pairing = pair_operations(load_history(tmp_path / "h.jsonl"))
    assert [op.type for op in pairing.operations] == ["ok", "ok", "fail"]


def test_a_declined_card_is_fail(target: ReferenceTarget, tmp_path: Path) -> None:
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = _client(target, recorder)
        created = client.create_payment(1000, customer="decline")
        assert created.value is not None
        outcome = client.charge(created.value["id"])
    assert outcome.type == "fail"
    assert outcome.error is not None and outcome.error["kind"] == "declined"


def test_a_lost_provider_response_is_info(
    target: ReferenceTarget, standin_admin: StandinAdmin, tmp_path: Path
) -> None:
    """The stand-in charges then resets the connection: the service answers 5xx, recorded info."""
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = _client(target, recorder)
        payment_id = _new_payment(client)
        standin_admin.arm([{"action": "drop_after", "payment_id": payment_id, "count": 1}])
        outcome = client.charge(payment_id)
    assert outcome.type == "info"
    assert outcome.error is not None and outcome.error["kind"] == "server_error"
    assert len(standin_admin.charges(payment_id)) == 1  # money moved although the client saw info


def test_a_crash_failpoint_is_info_and_the_worker_restarts(
    target: ReferenceTarget, standin_admin: StandinAdmin, tmp_path: Path
) -> None:
    """A crash abandons the worker (its transaction rolls back), the next call gets a new one."""
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = _client(target, recorder)
        payment_id = _new_payment(client)
        target.arm_failpoint("before_commit", "crash", 0)
        crashed = client.charge(payment_id)
        assert crashed.type == "info"
        assert crashed.error is not None and crashed.error["kind"] == "crash"
        assert client.restarts == 1
        # The crash rolled back the row: still pending although the card was charged.
        read = client.read(payment_id)
    assert read.type == "ok" and read.value is not None
    assert read.value["status"] == "pending"
    assert len(standin_admin.charges(payment_id)) == 1


def test_a_dropped_database_connection_is_survived(
    target: ReferenceTarget, tmp_path: Path
) -> None:
    """After the nemesis kills every connection the workers reconnect (pre-ping)."""
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = _client(target, recorder)
        assert client.create_payment(1000).type == "ok"
        assert target.drop_connections() >= 1
        assert client.create_payment(1000).type == "ok"
