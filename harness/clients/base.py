"""The client protocol: one simulated worker of the target, every call recorded as one operation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from harness.history import Classified, HistoryRecorder, classify_exception, classify_response

# What a transport call returns: the HTTP status of docs/TARGETS.md and the JSON body (or None).
Response = tuple[int, Mapping[str, Any] | None]


class Client(Protocol):
    """One worker of the target. Each call records `invoke` then exactly one of ok/fail/info.

    `process` names the history process of the call. A process runs one operation at a
    time (Jepsen's rule), so concurrent calls through one worker pass distinct names.
    """

    name: str
    recorder: HistoryRecorder | None

    def create_payment(
        self,
        amount: int,
        currency: str = "usd",
        customer: str | None = None,
        *,
        process: str | None = None,
    ) -> Classified: ...

    def charge(
        self, payment_id: str, idempotency_key: str | None = None, *, process: str | None = None
    ) -> Classified: ...

    def read(self, payment_id: str, *, process: str | None = None) -> Classified: ...

    def reconcile(self, force: bool = False, *, process: str | None = None) -> Classified: ...

    def close(self) -> None: ...


def perform(
    recorder: HistoryRecorder | None,
    process: str,
    f: str,
    call: Callable[[], Response],
    *,
    payment_id: str | None = None,
    idempotency_key: str | None = None,
    invoke_value: Mapping[str, Any] | None = None,
    on_exception: Callable[[BaseException], Classified | None] | None = None,
) -> Classified:
    """Record the invoke, make the call, classify it by the law and record the completion.

    Any exception the call raises is `info` (the request may have taken effect);
    `on_exception` may refine how one is described (e.g. a simulated crash) or return None.
    """
    invoke = (
        recorder.invoke(
            process, f, payment_id=payment_id, idempotency_key=idempotency_key, value=invoke_value
        )
        if recorder is not None
        else None
    )
    try:
        status, body = call()
    except Exception as exc:  # every failure of the call is an outcome to record, not a crash
        outcome = (on_exception(exc) if on_exception is not None else None) or classify_exception(
            exc
        )
    else:
        outcome = classify_response(f, status, body)
    if recorder is not None and invoke is not None:
        recorder.complete_with(invoke, outcome)
    return outcome
