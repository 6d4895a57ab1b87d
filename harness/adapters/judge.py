"""The law over any adapter: transport failures and 5xx are never `fail`; its slips are `info`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.adapters.api import Adapter, Answer, Request
from harness.history import Classified, classify_exception

# Which adapter method builds each operation's request, and which one reads its answer.
BUILDERS = {"create": "create", "charge": "charge", "read": "read"}
READERS = {"create": "created", "charge": "charged", "read": "payment"}
_TYPES = ("ok", "fail", "info")


class AdapterRaised(Exception):
    """The user's adapter raised while building a request: nothing was sent, the op is `info`."""


def build(adapter: Adapter, f: str, *args: Any) -> Request:
    """The adapter's request for operation `f`; its exception becomes AdapterRaised."""
    method = BUILDERS[f]
    try:
        request = getattr(adapter, method)(*args)
    except Exception as exc:
        raise AdapterRaised(_raised(adapter, method, exc)) from exc
    if not isinstance(request, Request):
        raise AdapterRaised(
            f"adapter {type(adapter).__name__}.{method}() returned {type(request).__name__}, "
            "expected harness.adapters.Request"
        )
    return request


def _raised(adapter: Adapter, method: str, exc: BaseException) -> str:
    return f"adapter {type(adapter).__name__}.{method}() raised {type(exc).__name__}: {exc}"[:500]


def _adapter_slip(message: str, status: int | None) -> Classified:
    return Classified("info", None, {"kind": "adapter", "status": status, "message": message})


def judge(
    adapter: Adapter,
    f: str,
    answer: Answer | None = None,
    exc: BaseException | None = None,
    *,
    payment_id: str | None = None,
) -> Classified:
    """Classify one operation's answer (or exception) through the adapter, under the law."""
    if exc is not None:
        if isinstance(exc, AdapterRaised):
            return _adapter_slip(str(exc), None)
        return classify_exception(exc)
    if answer is None:
        raise ValueError(f"judge({f!r}) needs the answer or the exception, got neither")
    method = READERS[f]
    try:
        outcome = getattr(adapter, method)(answer)
    except Exception as raised:  # the adapter's bug is an unknown outcome, never payrace's crash
        return _adapter_slip(_raised(adapter, method, raised), answer.status)
    if not (isinstance(outcome, tuple) and len(outcome) == 3 and outcome[0] in _TYPES):
        return _adapter_slip(
            f"adapter {type(adapter).__name__}.{method}() returned {outcome!r:.80}, "
            "expected ok(...), fail(...) or info(...)",
            answer.status,
        )
    kind, value, error = Classified(*outcome)
    error = {**error, "status": error.get("status") or answer.status} if error else None
    if kind == "fail" and answer.status >= 500:
        # The law: a 5xx may have taken effect, whatever the adapter thinks it means.
        message = (error or {}).get("message", "")
        error = {**(error or {}), "kind": "server_error", "status": answer.status,
                 "message": f"{answer.status} (a 5xx is never fail) {message}".strip()}
        return Classified("info", value, error)
    if kind == "ok":
        return _completed(adapter, f, method, value, answer.status, payment_id)
    return Classified(kind, value, error)


def _completed(
    adapter: Adapter, f: str, method: str, value: Mapping[str, Any] | None,
    status: int, payment_id: str | None,
) -> Classified:
    row = dict(value or {})
    if f == "create":
        if not isinstance(row.get("id"), str) or not row["id"]:
            return _adapter_slip(
                f"adapter {type(adapter).__name__}.{method}() said ok without the new "
                "payment's id (ok({'id': ...}))",
                status,
            )
        return Classified("ok", row, None)
    if payment_id is not None:
        row.setdefault("id", payment_id)
    if f == "charge":
        row.setdefault("status", "completed")
    return Classified("ok", row, None)
