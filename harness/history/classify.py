"""Classify a client call by the law: ok happened, fail certainly did not, info is unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from harness.history.ops import Outcome


class Classified(NamedTuple):
    """How one client call ended, by the law: its type and what to record as value and error."""

    type: Outcome
    value: dict[str, Any] | None
    error: dict[str, Any] | None


# Names of exception classes (anywhere in the MRO) that mean "the connection broke mid-request";
# matched by name so httpx, requests, urllib3 and the stdlib are recognised without importing them.
_RESET_NAMES = frozenset(
    {
        "ConnectionResetError",
        "BrokenPipeError",
        "ConnectionAbortedError",
        "RemoteProtocolError",
        "RemoteDisconnected",
        "IncompleteRead",
        "ReadError",
        "WriteError",
        "ProtocolError",
        "ChunkedEncodingError",
    }
)
_CONNECT_NAMES = frozenset({"ConnectionRefusedError", "ConnectError", "NewConnectionError"})


def classify_exception(exc: BaseException) -> Classified:
    """Any exception is `info`: the request may or may not have taken effect."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        kind = "timeout"
    elif any(name in _RESET_NAMES for name in names):
        kind = "reset"
    elif any(name in _CONNECT_NAMES for name in names):
        kind = "connection"
    else:
        kind = "exception"
    message = f"{type(exc).__name__}: {exc}"[:500]
    return Classified("info", None, {"kind": kind, "status": None, "message": message})


def _http_error(
    kind: str, status: int, body: Mapping[str, Any] | None, message: str
) -> dict[str, Any]:
    error: dict[str, Any] = {"kind": kind, "status": status, "message": message}
    detail = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(detail, Mapping):
        # The service's own error code and correlation id link this op to the ledger's request.
        for key in ("code", "provider_code", "correlation_id"):
            if detail.get(key) is not None:
                error[key] = detail[key]
    return error


def classify_charge(
    status: int | None = None,
    body: Mapping[str, Any] | None = None,
    exc: BaseException | None = None,
) -> Classified:
    """Classify a `POST /payments/{id}/charge` outcome by the law of docs/TARGETS.md.

    200 completed → ok; 402 declined and 409 → fail (nothing happened for this request);
    202, timeouts, resets, 5xx, any other status and any exception → info.
    """
    if exc is not None:
        return classify_exception(exc)
    if status is None:
        raise ValueError("classify_charge needs the HTTP status or the exception, got neither")
    value = dict(body) if isinstance(body, Mapping) else None
    if status == 200:
        if value is not None and value.get("status") == "completed":
            return Classified("ok", value, None)
        got = value.get("status") if value is not None else None
        return Classified(
            "info",
            value,
            _http_error(
                "unexpected_body", status, body, f"200 with status={got!r}, expected 'completed'"
            ),
        )
    if status == 202:
        return Classified(
            "info",
            value,
            _http_error("processing", status, body, "202 accepted, outcome not yet known"),
        )
    if status == 402:
        return Classified("fail", value, _http_error("declined", status, body, "402 declined"))
    if status == 409:
        return Classified(
            "fail",
            value,
            _http_error("conflict", status, body, "409 already processed or in progress"),
        )
    if 500 <= status <= 599:
        return Classified(
            "info", value, _http_error("server_error", status, body, f"{status} server error")
        )
    # The contract promises "nothing happened" only for 402 and 409: anything else is unknown.
    return Classified(
        "info", value, _http_error("unexpected_status", status, body, f"unexpected status {status}")
    )


def classify_response(
    f: str,
    status: int | None = None,
    body: Mapping[str, Any] | None = None,
    exc: BaseException | None = None,
) -> Classified:
    """Classify any contract call: `charge` as above; other 2xx → ok, 4xx → fail, rest info."""
    if f == "charge":
        return classify_charge(status, body, exc)
    if exc is not None:
        return classify_exception(exc)
    if status is None:
        raise ValueError(
            f"classify_response({f!r}) needs the HTTP status or the exception, got neither"
        )
    value = dict(body) if isinstance(body, Mapping) else None
    if 200 <= status <= 299:
        return Classified("ok", value, None)
    if 400 <= status <= 499:
        # create and read change no money, so a rejected request certainly did not happen.
        return Classified(
            "fail", value, _http_error("rejected", status, body, f"{status} rejected")
        )
    return Classified(
        "info", value, _http_error("server_error", status, body, f"{status} from {f}")
    )
