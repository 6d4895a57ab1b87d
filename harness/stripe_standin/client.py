"""StandinAdmin: the Python client of the stand-in's admin API, for tests, runs and the nemesis."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from harness.errors import ProvisionError, UsageError
from harness.ledger import is_money_charge


class StandinAdmin:
    """Arm faults, read the ledger, reset state and move the clock of one stand-in."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StandinAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ProvisionError(
                f"The Stripe stand-in at {self.url} did not answer {method} {path}: {exc}"
            ) from None
        if resp.status_code >= 400:
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text.strip()
            raise UsageError(f"The stand-in refused {method} {path}: {message}")
        return resp.json()

    def health(self) -> dict[str, Any]:
        """`{"ok": true, "standin": "payrace", "version": …}`."""
        result: dict[str, Any] = self._call("GET", "/_standin/health")
        return result

    def arm(self, rules: list[dict[str, Any]]) -> int:
        """Arm fault rules (all or none); return how many were armed."""
        return int(self._call("POST", "/_standin/faults", json=rules)["armed"])

    def faults(self) -> list[dict[str, Any]]:
        """The armed rules with their `matched` / `fired` counters."""
        rules: list[dict[str, Any]] = self._call("GET", "/_standin/faults")["rules"]
        return rules

    def release_gates(self, payment_id: str | None = None) -> int:
        """Free requests waiting at gates (all, or one payment's) without disarming the rules."""
        body = {"payment_id": payment_id} if payment_id is not None else {}
        return int(self._call("POST", "/_standin/faults/release", json=body)["released"])

    def clear_faults(self) -> int:
        """Disarm every rule; return how many there were."""
        return int(self._call("DELETE", "/_standin/faults")["cleared"])

    def ledger(self, cursor: int = 0, limit: int | None = None) -> dict[str, Any]:
        """One page: `{"entries": [...], "next_cursor": n}` of entries with seq > cursor."""
        params: dict[str, int] = {"cursor": cursor}
        if limit is not None:
            params["limit"] = limit
        page: dict[str, Any] = self._call("GET", "/_standin/ledger", params=params)
        return page

    def ledger_entries(
        self, kind: str | None = None, page_size: int = 5000
    ) -> list[dict[str, Any]]:
        """Every ledger entry (optionally of one kind), read page by page."""
        out: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = self.ledger(cursor, page_size)
            out.extend(e for e in page["entries"] if kind is None or e["kind"] == kind)
            if not page["entries"]:
                return out
            cursor = page["next_cursor"]

    def charges(self, payment_id: str | None = None) -> list[dict[str, Any]]:
        """Money movements (`charge` entries; replays never appear), optionally for one payment."""
        return [
            e for e in self.ledger_entries("charge")
            if is_money_charge(e) and (payment_id is None or e.get("payment_id") == payment_id)
        ]

    def dump_ledger(self, path: str | None = None) -> int:
        """Write the ledger as JSON Lines (to `path`, or the stand-in's --ledger FILE)."""
        body = {"path": path} if path is not None else {}
        return int(self._call("POST", "/_standin/ledger/dump", json=body)["entries"])

    def webhooks(self, payment_ids: Collection[str] = ()) -> dict[str, Any]:
        """`{"endpoints": [... with "secret" and "source"], "queued", "scheduled",
        "retrying", "held", "in_flight", "attempts", "delivered"}`; the owed counts only for
        `payment_ids`' events when given."""
        params = [("payment_id", pid) for pid in payment_ids]
        result: dict[str, Any] = self._call("GET", "/_standin/webhooks", params=params)
        return result

    def reset(self) -> None:
        """Clear objects, keys, faults, the ledger and the clock offset."""
        self._call("POST", "/_standin/reset")

    def advance_clock(self, seconds: float, renew_keys_used_within_s: float = 0.0,
                      except_keys: Collection[str] = ()) -> float:
        """Move the stand-in's clock forward; return its new time (epoch seconds).

        Keys still executing or used in the last `renew_keys_used_within_s` real seconds
        start a new lifetime instead of aging (they are in the middle of an attempt), but
        those in `except_keys`, which age whatever their use."""
        body: dict[str, Any] = {"advance_seconds": seconds}
        if renew_keys_used_within_s:
            body["renew_keys_used_within_s"] = renew_keys_used_within_s
        if except_keys:
            body["except_keys"] = sorted(except_keys)
        return float(self._call("POST", "/_standin/clock", json=body)["now"])
