"""The HTTP client: drives any HTTP target through its adapter, with a short timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from harness.adapters import Adapter, ContractAdapter
from harness.adapters.send import exchange
from harness.clients.base import perform
from harness.history import Classified, HistoryRecorder

# Short on purpose: a client that gives up is what turns a slow charge into an unknown outcome.
DEFAULT_TIMEOUT_S = 2.0


class HttpClient:
    """One simulated worker talking to `base_url`; its own connection pool, thread-safe."""

    def __init__(
        self,
        base_url: str,
        recorder: HistoryRecorder | None = None,
        name: str = "w0",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        adapter: Adapter | None = None,
    ) -> None:
        self.name = name
        self.adapter: Adapter = adapter if adapter is not None else ContractAdapter()
        self.recorder = recorder
        self.base_url = base_url.rstrip("/")
        # No keep-alive: payrace kills a foreign service's workers, and a connection kept to a
        # dead one would fail the next call with a reset that has nothing to do with it.
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def _op(
        self,
        process: str | None,
        f: str,
        args: tuple[Any, ...],
        *,
        payment_id: str | None = None,
        idempotency_key: str | None = None,
        invoke_value: Mapping[str, Any] | None = None,
    ) -> Classified:
        """One operation: the adapter builds the request and reads the answer, under the law."""
        recorder = self.recorder
        invoke = (
            recorder.invoke(
                process or self.name, f, payment_id=payment_id,
                idempotency_key=idempotency_key, value=invoke_value,
            )
            if recorder is not None
            else None
        )
        _, outcome = exchange(self._http, self.adapter, f, *args, payment_id=payment_id)
        if recorder is not None and invoke is not None:
            recorder.complete_with(invoke, outcome)
        return outcome

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
        return self._op(process, "create", (amount, currency, customer), invoke_value=payload)

    def charge(
        self, payment_id: str, idempotency_key: str | None = None, *, process: str | None = None
    ) -> Classified:
        return self._op(
            process, "charge", (payment_id, idempotency_key),
            payment_id=payment_id, idempotency_key=idempotency_key,
        )

    def read(self, payment_id: str, *, process: str | None = None) -> Classified:
        return self._op(process, "read", (payment_id,), payment_id=payment_id)

    def reconcile(self, force: bool = False, *, process: str | None = None) -> Classified:
        # Reconcile is payrace's own admin endpoint (docs/TARGETS.md), whatever the adapter.
        def call() -> tuple[int, Mapping[str, Any] | None]:
            response = self._http.post("/_admin/reconcile", json={"force": force})
            try:
                body = response.json()
            except ValueError:
                body = None
            return response.status_code, body if isinstance(body, dict) else None

        return perform(
            self.recorder, process or self.name, "reconcile", call, invoke_value={"force": force}
        )

    def close(self) -> None:
        self._http.close()
