"""Chaos's clock jump on a real stand-in: lost charges' keys are forgotten, keys in use not."""

from __future__ import annotations

import threading
import time
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
    assert detail["keys_in_use_renewed_within_s"] == clock.RETRY_QUIET_S
    for pid in ("pay_lost1", "pay_lost2"):  # a re-drive a day on meets a forgotten key
        again = _charge(standin, pid)
        assert again is not None and "Idempotent-Replayed" not in again.headers
        assert len(standin_admin.charges(pid)) == 2
    again = _charge(standin, "pay_busy")  # the attempt in progress replays, as it would live
    assert again is not None and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == busy.json()["id"]
    assert len(standin_admin.charges("pay_busy")) == 1
