"""Builders for literal histories, ledgers and DB rows, so checker tests read like timelines."""

from __future__ import annotations

from typing import Any

from harness.history import Op, OpType, Outcome

# Literal evidence puts the run's t=0 at this wall time, so ledger time = ORIGIN + t.
ORIGIN = 1_764_190_000.0


def timeout(message: str = "read timed out") -> dict[str, Any]:
    return {"kind": "timeout", "status": None, "message": message}


def server_error(status: int = 500) -> dict[str, Any]:
    return {"kind": "server_error", "status": status, "message": f"{status} server error"}


class HistoryBuilder:
    """Appends ops with consecutive indices; a completion reuses its process's open invoke."""

    def __init__(self, origin: float = ORIGIN) -> None:
        self.origin = origin
        self.ops: list[Op] = []
        self._open: dict[str, Op] = {}

    def _add(
        self,
        process: str,
        type: OpType,
        f: str,
        payment_id: str | None,
        t: float,
        key: str | None,
        value: dict[str, Any] | None,
        error: dict[str, Any] | None,
    ) -> Op:
        op = Op(len(self.ops), t, self.origin + t, process, type, f, payment_id, key, value, error)
        self.ops.append(op)
        return op

    def invoke(
        self,
        process: str,
        f: str,
        payment_id: str | None,
        t: float,
        *,
        key: str | None = None,
        value: dict[str, Any] | None = None,
    ) -> Op:
        op = self._add(process, "invoke", f, payment_id, t, key, value, None)
        self._open[process] = op
        return op

    def complete(
        self,
        process: str,
        type: Outcome,
        t: float,
        *,
        value: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> Op:
        inv = self._open.pop(process)
        return self._add(process, type, inv.f, inv.payment_id, t, inv.idempotency_key, value, error)

    def create(
        self, process: str, payment_id: str, t: float, dt: float = 0.01, amount: int = 1000
    ) -> None:
        """A whole create operation that saw the payment pending."""
        self.invoke(process, "create", payment_id, t, value={"amount": amount, "currency": "usd"})
        self.complete(
            process,
            "ok",
            t + dt,
            value={"id": payment_id, "status": "pending", "amount": amount, "currency": "usd"},
        )

    def charge_ok(
        self,
        process: str,
        payment_id: str,
        t: float,
        charge_id: str,
        dt: float = 0.1,
        key: str | None = None,
    ) -> None:
        """A whole charge operation that ended 200 completed."""
        self.invoke(process, "charge", payment_id, t, key=key)
        self.complete(
            process,
            "ok",
            t + dt,
            value={"id": payment_id, "status": "completed", "charge_id": charge_id},
        )

    def read(
        self,
        process: str,
        payment_id: str,
        t: float,
        status: str,
        dt: float = 0.01,
        charge_id: str | None = None,
    ) -> None:
        """A whole read that observed `status`."""
        self.invoke(process, "read", payment_id, t)
        self.complete(
            process,
            "ok",
            t + dt,
            value={
                "id": payment_id,
                "status": status,
                "charge_id": charge_id,
                "amount": 1000,
                "currency": "usd",
            },
        )


class LedgerBuilder:
    """Stand-in ledger entries with increasing seq and request ids, times on the run's clock."""

    def __init__(self, origin: float = ORIGIN) -> None:
        self.origin = origin
        self.entries: list[dict[str, Any]] = []
        self._last_request_id: str | None = None

    def _seq(self) -> int:
        return len(self.entries) + 1

    def request(
        self,
        t: float,
        payment_id: str | None,
        *,
        key: str | None = None,
        path: str = "/v1/charges",
        method: str = "POST",
        status: int = 200,
        replayed: bool = False,
        fault: str | None = None,
    ) -> dict[str, Any]:
        request_id = f"req_{self._seq()}"
        entry = {
            "seq": self._seq(),
            "kind": "request",
            "time": self.origin + t,
            "method": method,
            "path": path,
            "idempotency_key": key,
            "params_digest": "sha256:test",
            "status": status,
            "replayed": replayed,
            "request_id": request_id,
            "fault": fault,
            "payment_id": payment_id,
            "api_key": "sk_test_payrace",
        }
        self.entries.append(entry)
        self._last_request_id = request_id
        return entry

    def charge(
        self,
        t: float,
        payment_id: str | None,
        charge_id: str,
        *,
        amount: int = 1000,
        currency: str = "usd",
        key: str | None = None,
        obj: str = "charge",
        status: str = "succeeded",
    ) -> dict[str, Any]:
        entry = {
            "seq": self._seq(),
            "kind": "charge",
            "time": self.origin + t,
            "object": obj,
            "id": charge_id,
            "amount": amount,
            "currency": currency,
            "payment_id": payment_id,
            "idempotency_key": key,
            "request_id": self._last_request_id,
            "status": status,
        }
        self.entries.append(entry)
        return entry

    def charged(
        self,
        t: float,
        payment_id: str | None,
        charge_id: str,
        *,
        key: str | None = None,
        amount: int = 1000,
        fault: str | None = None,
    ) -> dict[str, Any]:
        """A POST /v1/charges request and the charge it made, as the stand-in writes them."""
        self.request(t, payment_id, key=key, fault=fault)
        return self.charge(t, payment_id, charge_id, key=key, amount=amount)

    def declined(self, t: float, payment_id: str, *, key: str | None = None) -> dict[str, Any]:
        return self.request(t, payment_id, key=key, status=402)

    def refund(
        self,
        t: float,
        charge_id: str,
        payment_id: str | None,
        amount: int = 1000,
        refund_id: str | None = None,
    ) -> dict[str, Any]:
        entry = {
            "seq": self._seq(),
            "kind": "refund",
            "time": self.origin + t,
            "id": refund_id or f"re_{self._seq()}",
            "charge": charge_id,
            "amount": amount,
            "payment_id": payment_id,
        }
        self.entries.append(entry)
        return entry


def row(
    payment_id: str,
    status: str,
    charge_id: str | None = None,
    amount: int = 1000,
    currency: str = "usd",
) -> dict[str, Any]:
    """One payments row of the DB snapshot."""
    return {
        "id": payment_id,
        "status": status,
        "charge_id": charge_id,
        "amount": amount,
        "currency": currency,
    }


__all__ = ["ORIGIN", "HistoryBuilder", "LedgerBuilder", "row", "server_error", "timeout"]
