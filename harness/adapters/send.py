"""Send an adapter's Request with httpx and hand back its Answer (explore, preflight, read-back)."""

from __future__ import annotations

from typing import Any

import httpx

from harness.adapters.api import Adapter, Answer, Request
from harness.adapters.judge import build, judge
from harness.history import Classified


def send(client: httpx.Client, request: Request) -> Answer:
    """One request; transport errors propagate (they are `info`, judged by the caller)."""
    response = client.request(
        request.method, request.path, json=request.json, headers=dict(request.headers)
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body, response.text, dict(response.headers), request)


def exchange(
    client: httpx.Client, adapter: Adapter, f: str, *args: Any, payment_id: str | None = None
) -> tuple[Answer | None, Classified]:
    """Build `f`'s request, send it and judge the answer: one operation through the adapter.

    Any exception (transport, or the adapter's slip) is judged `info`; the answer is None then.
    """
    try:
        answer = send(client, build(adapter, f, *args))
    except Exception as exc:  # an unknown outcome, never payrace's crash
        return None, judge(adapter, f, exc=exc)
    return answer, judge(adapter, f, answer, payment_id=payment_id)
