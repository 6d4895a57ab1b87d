"""The in-process client: calls one service instance directly, as one simulated worker process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from harness.clients.base import Response, perform
from harness.clients.service import Service
from harness.history import Classified, HistoryRecorder


class WorkerCrashed(Exception):
    """The worker died mid-call (a crash failpoint); the call's outcome is unknown."""


def is_simulated_crash(exc: BaseException) -> bool:
    """True for what a service raises where a real worker would have died (crash failpoint)."""
    # Matched by name: a target's crash failpoint need not share a class with the harness.
    return any(cls.__name__ == "SimulatedCrash" for cls in type(exc).__mro__)


def _surviving(call: Callable[[], Response]) -> Response:
    """Run a call, turning a simulated crash (a BaseException) into an ordinary WorkerCrashed."""
    try:
        return call()
    except BaseException as exc:
        if is_simulated_crash(exc):
            raise WorkerCrashed(str(exc)) from exc
        raise


def _crash_outcome(exc: BaseException) -> Classified | None:
    if not isinstance(exc, WorkerCrashed):
        return None
    message = f"worker crashed: {exc}"[:500]
    return Classified("info", None, {"kind": "crash", "status": None, "message": message})


def _close(service: Service) -> None:
    """Close an instance that offers `close()`; closing is optional in the protocol."""
    close = getattr(service, "close", None)
    if callable(close):
        close()


class InProcessClient:
    """One simulated worker: its own service instance, hence its own locks and connection pool.

    A crash failpoint abandons the instance the way a process dies (its transaction rolls
    back, its in-process locks vanish) and the next call starts a fresh one, as a
    supervisor would restart the worker. The crashed call is recorded as `info`.
    """

    def __init__(
        self,
        factory: Callable[[], Service],
        recorder: HistoryRecorder | None = None,
        name: str = "w0",
    ) -> None:
        self.name = name
        self.recorder = recorder
        self.restarts = 0
        self._factory = factory
        self._lock = threading.Lock()
        self._service: Service | None = None
        self._inflight: dict[int, int] = {}
        self._dead: dict[int, Service] = {}

    def _acquire(self) -> Service:
        with self._lock:
            if self._service is None:
                self._service = self._factory()
            service = self._service
            self._inflight[id(service)] = self._inflight.get(id(service), 0) + 1
            return service

    def _release(self, service: Service, crashed: bool) -> None:
        to_close: Service | None = None
        with self._lock:
            key = id(service)
            self._inflight[key] -= 1
            if crashed and self._service is service:
                self._service = None
                self._dead[key] = service
                self.restarts += 1
            if key in self._dead and self._inflight[key] == 0:
                to_close = self._dead.pop(key)
                del self._inflight[key]
        if to_close is not None:
            # A dead worker's connections go away; other calls already use the replacement.
            _close(to_close)

    def _run(
        self,
        process: str | None,
        f: str,
        call: Callable[[Service], Response],
        **record: Any,
    ) -> Classified:
        service = self._acquire()
        crashed = False

        def on_exception(exc: BaseException) -> Classified | None:
            nonlocal crashed
            outcome = _crash_outcome(exc)
            crashed = outcome is not None
            return outcome

        try:
            return perform(
                self.recorder,
                process or self.name,
                f,
                lambda: _surviving(lambda: call(service)),
                on_exception=on_exception,
                **record,
            )
        finally:
            self._release(service, crashed)

    def create_payment(
        self,
        amount: int,
        currency: str = "usd",
        customer: str | None = None,
        *,
        process: str | None = None,
    ) -> Classified:
        def call(service: Service) -> Response:
            return 201, service.create_payment(amount, currency, customer)

        return self._run(
            process,
            "create",
            call,
            invoke_value={"amount": amount, "currency": currency, "customer": customer},
        )

    def charge(
        self, payment_id: str, idempotency_key: str | None = None, *, process: str | None = None
    ) -> Classified:
        def call(service: Service) -> Response:
            return service.charge(payment_id, idempotency_key)

        return self._run(
            process, "charge", call, payment_id=payment_id, idempotency_key=idempotency_key
        )

    def read(self, payment_id: str, *, process: str | None = None) -> Classified:
        def call(service: Service) -> Response:
            row = service.get_payment(payment_id)
            return (404, None) if row is None else (200, row)

        return self._run(process, "read", call, payment_id=payment_id)

    def reconcile(self, force: bool = False, *, process: str | None = None) -> Classified:
        def call(service: Service) -> Response:
            # Only called when the target offers reconcile (Target.can_reconcile).
            return 200, service.reconcile(force)  # type: ignore[attr-defined]

        return self._run(process, "reconcile", call, invoke_value={"force": force})

    def close(self) -> None:
        with self._lock:
            services = list(self._dead.values())
            if self._service is not None:
                services.append(self._service)
            self._service = None
            self._dead.clear()
            self._inflight.clear()
        for service in services:
            _close(service)
