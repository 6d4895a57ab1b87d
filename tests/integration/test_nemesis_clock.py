"""Chaos's clock jump on a real stand-in: lost charges' keys are forgotten, keys in use not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from harness.nemesis import clock
from harness.nemesis.family import NemesisContext
from harness.stripe_standin import TEST_API_KEY, StandinAdmin

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def _charge(url: str, payment_id: str) -> httpx.Response | None:
    """One charge keyed by its payment; None when its answer was lost."""
    data = {"amount": "700", "currency": "usd", "source": "tok_visa",
            "metadata[payment_id]": payment_id}
    try:
        return httpx.post(f"{url}/v1/charges", data=data, timeout=5,
                          headers={**AUTH, "Idempotency-Key": f"key-{payment_id}"})
    except httpx.TransportError:
        return None


def _busy(url: str, stop: threading.Event) -> None:
    """An attempt that keeps retrying its key (an SDK's retries, 0.2 s apart) all along."""
    while not stop.is_set():
        _charge(url, "pay_busy")
        stop.wait(0.2)


def test_the_jump_forgets_lost_keys_but_renews_keys_in_use(
    standin: str, standin_admin: StandinAdmin
) -> None:
    busy = _charge(standin, "pay_busy")
    assert busy is not None and busy.status_code == 200
    stop = threading.Event()
    retrier = threading.Thread(target=_busy, args=(standin, stop), daemon=True)
    retrier.start()
    ctx = NemesisContext(standin_url=standin)
    detail: dict[str, Any] = {}
    jump = threading.Thread(target=lambda: detail.update(clock.jump_after_lost_answers(ctx)))
    try:
        jump.start()
        deadline = time.monotonic() + 10
        while not standin_admin.faults() and time.monotonic() < deadline:
            time.sleep(0.02)
        lost = [_charge(standin, pid) for pid in ("pay_lost1", "pay_lost2")]
        assert lost == [None, None], "the armed drop_after loses both answers"
        jump.join(30)
        assert not jump.is_alive()
    finally:
        stop.set()
        retrier.join(5)
        ctx.close()
    assert detail["keys_in_use_renewed_within_s"] == clock.IN_ATTEMPT_S
    assert detail["lost_keys"] == ["key-pay_lost1", "key-pay_lost2"]
    for pid in ("pay_lost1", "pay_lost2"):  # a re-drive a day on meets a forgotten key
        again = _charge(standin, pid)
        assert again is not None and "Idempotent-Replayed" not in again.headers
        assert len(standin_admin.charges(pid)) == 2
    again = _charge(standin, "pay_busy")  # the attempt in progress replays, as it would live
    assert again is not None and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == busy.json()["id"]
    assert len(standin_admin.charges("pay_busy")) == 1


@contextmanager
def _service_with_a_clock() -> Iterator[tuple[str, threading.Event]]:
    """A target that offers POST /_admin/clock; the event is set once its clock moved."""
    moved = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            moved.set()
            time.sleep(1.0)  # a service slow to say so: the gap outlasts IN_ATTEMPT_S
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", moved
    finally:
        server.shutdown()
        server.server_close()


def test_a_key_first_used_while_the_service_runs_a_day_ahead_is_renewed(
    standin: str, standin_admin: StandinAdmin
) -> None:
    """For a service whose clock moved, a key it uses before the provider's clock follows was
    used after the day passed: the provider renews it rather than forget it two seconds on."""
    with _service_with_a_clock() as (url, service_moved):
        ctx = NemesisContext(standin_url=standin, target_url=url, target_clock=True)
        detail: dict[str, Any] = {}
        jump = threading.Thread(
            target=lambda: detail.update(clock.jump_after_lost_answers(ctx)))
        try:
            jump.start()
            deadline = time.monotonic() + 10
            while not standin_admin.faults() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert [_charge(standin, p) for p in ("pay_lost1", "pay_lost2")] == [None, None]
            assert service_moved.wait(30), "the service's clock moved first"
            gap = _charge(standin, "pay_gap")  # the provider's clock has not moved yet
            jump.join(30)
            assert not jump.is_alive()
        finally:
            ctx.close()
    assert gap is not None and gap.status_code == 200
    assert detail["service_clock"] is True
    assert detail["keys_in_use_renewed_within_s"] >= clock.IN_ATTEMPT_S + clock.SERVICE_AHEAD_S
    again = _charge(standin, "pay_gap")
    assert again is not None and again.headers.get("Idempotent-Replayed") == "true"
    assert len(standin_admin.charges("pay_gap")) == 1
