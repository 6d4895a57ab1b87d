"""The HTTP client: drives any target honouring docs/TARGETS.md, with a short timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from harness.clients.base import Response, perform
from harness.history import Classified, HistoryRecorder

# Short on purpose: a client that gives up is what turns a slow charge into an unknown outcome.
DEFAULT_TIMEOUT_S = 2.0


def _body(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class HttpClient:
    """One simulated worker talking to `base_url`; its own connection pool, thread-safe."""

    def __init__(
        self,
        base_url: str,
        recorder: HistoryRecorder | None = None,
        name: str = "w0",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.recorder = recorder
        self.base_url = base_url.rstrip("/")
        # No keep-alive: payrace kills a foreign service's workers, and a connection kept to a
        # dead one would fail the next call with a reset that has nothing to do with it.
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> Response:
        response = self._http.request(method, path, **kwargs)
        return response.status_code, _body(response)

    def create_payment(
        self,
        amount: int,
        currency: str = "usd",
        customer: str | None = None,
        *,
        process: str | None = None,
    ) -> Classified:
        payload: dict[str, Any] = {"amount": amount, "currency": currency}
        if customer is not None:
            payload["customer"] = customer
        return perform(
            self.recorder,
            process or self.name,
            "create",
            lambda: self._send("POST", "/payments", json=payload),
            invoke_value=payload,
        )

    def charge(
        self, payment_id: str, idempotency_key: str | None = None, *, process: str | None = None
    ) -> Classified:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        return perform(
            self.recorder,
            process or self.name,
            "charge",
            lambda: self._send("POST", f"/payments/{payment_id}/charge", headers=headers),
            payment_id=payment_id,
            idempotency_key=idempotency_key,
        )

    def read(self, payment_id: str, *, process: str | None = None) -> Classified:
        return perform(
            self.recorder,
            process or self.name,
            "read",
            lambda: self._send("GET", f"/payments/{payment_id}"),
            payment_id=payment_id,
        )

    def reconcile(self, force: bool = False, *, process: str | None = None) -> Classified:
        return perform(
            self.recorder,
            process or self.name,
            "reconcile",
            lambda: self._send("POST", "/_admin/reconcile", json={"force": force}),
            invoke_value={"force": force},
        )

    def close(self) -> None:
        self._http.close()
