"""The optional `/_admin` endpoints of an HTTP target: snapshot, reconcile, clock, failpoints."""

from __future__ import annotations

from typing import Any

import httpx

from harness.errors import ProvisionError

RECONCILE_TIMEOUT_S = 120.0
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


class RefusedError(ProvisionError):
    """The target answered an `/_admin` call with a refusal (it does not offer it, or not now)."""


def rows_of(body: Any) -> list[dict[str, Any]] | None:
    """A snapshot body — a list of rows, or `{"payments": [...]}` — as rows; None otherwise."""
    if isinstance(body, dict) and isinstance(body.get("payments"), list):
        body = body["payments"]
    if not isinstance(body, list):
        return None
    return [row for row in body if isinstance(row, dict)]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class TargetAdmin:
    """Calls to the optional endpoints a service may offer; each answers what it got."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        # No keep-alive: a connection kept to a worker payrace has since killed would answer
        # the next admin call with a reset. A fresh connection costs little on loopback.
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, limits=FRESH_CONNECTIONS)

    def __enter__(self) -> TargetAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _problem(self, what: str, exc: Exception) -> ProvisionError:
        return ProvisionError(
            f"The target at {self.url} stopped answering {what} ({type(exc).__name__}: {exc})"
        )

    def snapshot(self) -> list[dict[str, Any]] | None:
        """Every row `GET /_admin/snapshot` returns, or None when it answers no rows."""
        try:
            response = self._http.get("/_admin/snapshot", timeout=60.0)
        except httpx.HTTPError:
            return None
        return rows_of(_json(response)) if response.status_code == 200 else None

    def reconcile(self, force: bool = True) -> dict[str, Any]:
        """`POST /_admin/reconcile`: the answer's body, or `{"error": …}` saying what failed."""
        try:
            response = self._http.post(
                "/_admin/reconcile", json={"force": force}, timeout=RECONCILE_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        body = _json(response)
        if response.status_code != 200:
            return {"error": f"HTTP {response.status_code}"}
        return body if isinstance(body, dict) else {"answer": body}

    def _post(self, path: str, body: dict[str, Any], what: str) -> None:
        """POST that must succeed: no answer or a refusal is a broken part (exit 3)."""
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise self._problem(f"POST {path}", exc) from None
        if response.status_code >= 300:
            raise RefusedError(
                f"The target at {self.url} refused {what} with HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )

    def move_clock(self, seconds: float) -> None:
        """`POST /_admin/clock {"advance_seconds": N}`: N seconds pass for the service."""
        body = {"advance_seconds": seconds}
        self._post("/_admin/clock", body, f"POST /_admin/clock {body}")

    def arm_failpoint(self, name: str, action: str, ms: int, count: int = 1) -> None:
        body = {"name": name, "action": action, "ms": ms, "count": count}
        self._post("/_admin/failpoints", body, f"failpoint {name}:{action}")

    def clear_failpoints(self) -> None:
        try:
            self._http.delete("/_admin/failpoints")
        except httpx.HTTPError as exc:
            raise self._problem("DELETE /_admin/failpoints", exc) from None

    def close(self) -> None:
        self._http.close()
