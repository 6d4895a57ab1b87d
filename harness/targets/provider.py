"""The provider protocol: what a package registers (entry point `payrace.targets`) to be one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.model.targets import Target
    from harness.targets.spec import TargetSpec


@dataclass(frozen=True)
class Schema:
    """A database schema payrace applies to the fresh databases it makes for a target.

    `fingerprint` names the schema's version (payrace keeps one template database per
    fingerprint and server); `apply` creates the tables on the database at the URL given.
    """

    fingerprint: str
    apply: Callable[[str], None]


@dataclass(frozen=True)
class ServeSettings:
    """How payrace wants one variant served over HTTP: its parts and its knobs (None: default)."""

    variant: str
    database_url: str
    stripe_url: str
    stripe_api_key: str
    failpoints: bool = False
    reconcile_interval_seconds: float = 0.0
    lease_seconds: float | None = None
    key_lifetime_seconds: float | None = None
    stripe_timeout_seconds: float | None = None


@dataclass(frozen=True)
class ServeCommand:
    """A launcher subprocess: argv and extra environment.

    payrace appends `--host H --port P --workers N --state-dir DIR --exit-with-stdin`; the
    launcher writes the bound port to `DIR/port`, one `DIR/worker-*` marker per ready
    worker, answers `GET /_admin/health` and stops when its stdin closes.
    """

    argv: list[str]
    env: dict[str, str]


class TargetProvider(Protocol):
    """A family of named variants (`<name>:<variant>` targets) payrace can run in-process or serve.

    `name` is the `--target` prefix; `logger_name` is the logger payrace quiets while it
    explores (failpoints log a warning each time they fire).
    """

    name: str
    logger_name: str
    test_api_key: str

    def variants(self) -> list[str]: ...

    def unknown_variant_message(self, variant: str) -> str: ...

    def schema(self) -> Schema: ...

    def inprocess_target(
        self, spec: TargetSpec, database_url: str, stripe_url: str, workers: int,
        *, failpoints: bool,
    ) -> Target: ...  # fmt: skip

    def serve_command(self, settings: ServeSettings) -> ServeCommand: ...
