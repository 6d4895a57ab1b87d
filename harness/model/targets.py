"""Targets the model drives: a variant or a Python factory in-process, or any HTTP service."""

from __future__ import annotations

from typing import Any, Protocol

from harness.clients import Client
from harness.errors import ProvisionError
from harness.targets.abilities import Abilities
from harness.targets.spec import ACCEPTED_FORMS, TargetKind, TargetSpec, parse_target, variant_names

__all__ = [
    "ACCEPTED_FORMS",
    "Target",
    "TargetKind",
    "TargetSpec",
    "database_problem",
    "parse_target",
    "variant_names",
]


class Target(Protocol):
    """A running target: its workers' clients, and what the nemesis and checkers need from it."""

    spec: TargetSpec
    workers: int
    abilities: Abilities
    can_failpoints: bool
    can_drop_connections: bool
    can_move_clock: bool
    can_reconcile: bool
    can_kill_workers: bool

    def clients(self) -> list[Client]: ...

    def reset(self) -> None:
        """Forget the previous example's payments (where the target allows it)."""

    def snapshot(self) -> list[dict[str, Any]] | None:
        """Every payments row, or None when the target does not expose its database."""

    def read_rows(self, payment_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The current row of each payment, as `GET /payments/{id}` shows it (unrecorded)."""

    def arm_failpoint(self, name: str, action: str, ms: int) -> None: ...

    def clear_failpoints(self) -> None: ...

    def blocked_requests(self) -> int:
        """Requests now waiting on a database lock inside the target (0 when unknown)."""

    def drop_connections(self) -> int:
        """Terminate the service's database connections; return how many."""

    def kill_workers(self) -> list[int]:
        """SIGKILL every worker process of the service (its supervisor starts new ones)."""

    def move_clock(self, seconds: float) -> None:
        """Make `seconds` pass for the service's stored timestamps (leases, key ages)."""

    def part(self) -> dict[str, Any]:
        """The `parts.target` entry of summary.json."""

    def close(self) -> None: ...


def database_problem(exc: BaseException, url: str) -> ProvisionError:
    """A database failure of the harness's own admin connection: a part stopped working."""
    from harness.provision.postgres import where

    cause = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    return ProvisionError(f"PostgreSQL at {where(url)} stopped answering the harness ({cause})")
