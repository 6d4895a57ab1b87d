"""The clients classify each call by the law: ok happened, fail surely did not, info is unknown."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.clients import HttpClient
from harness.history import HistoryRecorder, load_history, pair_operations

# path → (status, body) or a behaviour: "sleep" holds past the client's timeout, "reset" sends RST.
SCRIPT: dict[str, tuple[int, dict[str, object]] | str] = {
    "/payments/pay_ok/charge": (200, {"id": "pay_ok", "status": "completed", "charge_id": "ch_1"}),
    "/payments/pay_processing/charge": (202, {"status": "processing"}),
    "/payments/pay_declined/charge": (402, {"error": {"code": "card_declined"}}),
    "/payments/pay_busy/charge": (409, {"error": {"code": "in_progress"}}),
    "/payments/pay_5xx/charge": (
        503,
        {"error": {"code": "provider_unavailable", "provider_code": "x", "correlation_id": "c1"}},
    ),
    "/payments/pay_teapot/charge": (418, {}),
    "/payments/pay_slow/charge": "sleep",
    "/payments/pay_reset/charge": "reset",
    "/payments": (201, {"id": "pay_new", "status": "pending", "amount": 100, "currency": "usd"}),
    "/payments/pay_ok": (200, {"id": "pay_ok", "status": "completed", "charge_id": "ch_1"}),
    "/payments/pay_missing": (404, {"error": {"code": "not_found"}}),
    "/_admin/reconcile": (404, {}),
}


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        behaviour = SCRIPT.get(self.path, (404, {}))
        if behaviour == "sleep":
            time.sleep(0.6)
            behaviour = (200, {"status": "completed", "charge_id": "late"})
        if behaviour == "reset":
            # SO_LINGER 0 makes close() send a TCP RST: the client sees the connection reset.
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
            return
        assert isinstance(behaviour, tuple)
        status, body = behaviour
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def client(server_url: str, tmp_path: Path) -> Iterator[HttpClient]:
    recorder = HistoryRecorder(tmp_path / "history.jsonl")
    http = HttpClient(server_url, recorder, name="w0", timeout_s=0.3)
    yield http
    http.close()
    recorder.close()


@pytest.mark.parametrize(
    ("payment_id", "outcome", "kind"),
    [
        ("pay_ok", "ok", None),
        ("pay_processing", "info", "processing"),
        ("pay_declined", "fail", "declined"),
        ("pay_busy", "fail", "conflict"),
        ("pay_5xx", "info", "server_error"),
        ("pay_teapot", "info", "unexpected_status"),
        ("pay_slow", "info", "timeout"),
        ("pay_reset", "info", "reset"),
    ],
)
def test_charge_outcome_follows_the_law(
    client: HttpClient, payment_id: str, outcome: str, kind: str | None
) -> None:
    """200 completed is ok; 402/409 fail; 202, 5xx, odd statuses, timeouts and resets are info."""
    result = client.charge(payment_id, "key-1")
    assert result.type == outcome
    assert (result.error or {}).get("kind") == kind


def test_a_5xx_keeps_the_services_error_code_and_correlation_id(client: HttpClient) -> None:
    """The error of an unknown outcome carries what links it to the ledger's request."""
    result = client.charge("pay_5xx")
    assert result.error is not None
    assert result.error["code"] == "provider_unavailable"
    assert result.error["correlation_id"] == "c1"


def test_refused_connection_is_info_not_fail(tmp_path: Path) -> None:
    """Even a refused connection is recorded as unknown: the law never guesses `fail`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = HttpClient(f"http://127.0.0.1:{port}", None, timeout_s=0.3)
    try:
        result = http.charge("pay_1")
    finally:
        http.close()
    assert result.type == "info"
    assert result.error is not None and result.error["kind"] == "connection"


def test_create_read_reconcile_are_classified(client: HttpClient) -> None:
    """create 201 and read 200 are ok; a 404 read is fail; a target without reconcile says fail."""
    assert client.create_payment(100).type == "ok"
    assert client.read("pay_ok").type == "ok"
    assert client.read("pay_missing").type == "fail"
    assert client.reconcile().type == "fail"


def test_every_call_is_recorded_as_invoke_then_one_completion(
    client: HttpClient, tmp_path: Path
) -> None:
    """Each call leaves a paired invoke and completion in the history, with its key."""
    client.charge("pay_ok", "k-ok")
    client.charge("pay_reset", None, process="w0.1")
    assert client.recorder is not None
    client.recorder.close()
    history = load_history(tmp_path / "history.jsonl")
    pairing = pair_operations(history)
    assert pairing.orphans == []
    assert [(op.process, op.type, op.invoke.idempotency_key) for op in pairing.operations] == [
        ("w0", "ok", "k-ok"),
        ("w0.1", "info", None),
    ]
