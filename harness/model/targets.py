"""Targets the model drives: a reference variant in-process, or any HTTP service (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from harness.clients import Client
from harness.errors import ProvisionError, UsageError

TargetKind = Literal["reference", "http"]
ACCEPTED_FORMS = "reference:<variant> or http://host:port"


def variant_names() -> list[str]:
    from reference_impl.variants import VARIANTS  # cheap: variants load lazily

    return list(VARIANTS)


@dataclass(frozen=True)
class TargetSpec:
    """What `--target` named: a reference variant, or the base URL of an HTTP service."""

    kind: TargetKind
    value: str  # the variant name, or the URL without a trailing slash

    @property
    def label(self) -> str:
        return f"reference:{self.value}" if self.kind == "reference" else self.value


def parse_target(raw: str) -> TargetSpec:
    """Parse `--target`; anything else is a UsageError listing what is accepted."""
    text = raw.strip()
    if text.startswith("reference:"):
        name = text.removeprefix("reference:")
        names = variant_names()
        if name not in names:
            raise UsageError(
                f"Unknown variant {name!r} in --target {raw}; choose one of: "
                + ", ".join(f"reference:{n}" for n in names)
            )
        return TargetSpec("reference", name)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        try:
            parts.port  # noqa: B018 - validates the port number
        except ValueError:
            raise UsageError(f"Bad port in --target {raw!r}; expected {ACCEPTED_FORMS}") from None
        if parts.path not in ("", "/") or parts.query:
            raise UsageError(
                f"--target {raw!r} must be the service's base URL without a path; "
                f"expected {ACCEPTED_FORMS}"
            )
        return TargetSpec("http", text.rstrip("/"))
    raise UsageError(
        f"Cannot use --target {raw!r}; expected {ACCEPTED_FORMS} "
        f"(variants: {', '.join(variant_names())})"
    )


class Target(Protocol):
    """A running target: its workers' clients, and what the nemesis and checkers need from it."""

    spec: TargetSpec
    workers: int
    can_failpoints: bool
    can_drop_connections: bool
    can_move_clock: bool

    def clients(self) -> list[Client]: ...

    def reset(self) -> None:
        """Forget the previous example's payments (where the target allows it)."""

    def snapshot(self) -> list[dict[str, Any]] | None:
        """Every payments row, or None when the target does not expose its database."""

    def arm_failpoint(self, name: str, action: str, ms: int) -> None: ...

    def clear_failpoints(self) -> None: ...

    def blocked_requests(self) -> int:
        """Requests now waiting on a database lock inside the target (0 when unknown)."""

    def drop_connections(self) -> int:
        """Terminate the service's database connections; return how many."""

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
