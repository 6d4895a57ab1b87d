"""Send an adapter's Request with httpx and hand back its Answer (explore, preflight, read-back)."""

from __future__ import annotations

import httpx

from harness.adapters.api import Answer, Request


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
