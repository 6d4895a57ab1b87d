"""The reference service's configuration, and how it crosses into uvicorn workers (environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

TEST_API_KEY = "sk_test_payrace"

# Environment variables through which the harness configures every worker process.
ENV_PREFIX = "PAYRACE_SERVICE_"
ENV_VARIANT = ENV_PREFIX + "VARIANT"
ENV_READY_DIR = ENV_PREFIX + "READY_DIR"


@dataclass(frozen=True)
class ServiceConfig:
    """Everything one variant instance needs: where its database and provider are, and its knobs."""

    database_url: str
    stripe_url: str
    stripe_api_key: str = TEST_API_KEY
    failpoints: bool = False
    # How long a `safe` worker owns a payment it claimed; past it the reconciler may take over.
    lease_seconds: float = 10.0
    # The provider keeps an idempotency key 24 hours; past that `safe` searches before charging.
    key_lifetime_seconds: float = 24 * 3600.0
    # Seconds the SDK waits for the provider before the outcome becomes unknown.
    stripe_timeout_seconds: float = 4.0
    # Pause before an SDK retry; 0 keeps the SDK's own backoff (0.5 s and up). The harness's
    # in-process workers shorten it so examples stay cheap; the behaviour is the same.
    stripe_retry_delay_seconds: float = 0.0
    # Background reconciler period in each worker; 0 turns the loop off.
    reconcile_interval_seconds: float = 0.0
    pool_size: int = 5
    max_overflow: int = 10
    # What a `crash` failpoint does: "exit" kills the process (uvicorn workers); "raise" throws
    # SimulatedCrash, so in-process harness workers die without killing the harness.
    crash_mode: str = "exit"
    # The signing secret of the webhook endpoint the launcher registered (`whsec_…`); empty:
    # the variant takes no webhooks and `POST /webhooks/stripe` answers 404.
    webhook_secret: str = ""

    def to_env(self) -> dict[str, str]:
        """The environment variables that make `from_env` rebuild this config in another process."""
        env: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[ENV_PREFIX + field.name.upper()] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        """Rebuild the config from PAYRACE_SERVICE_* variables; the two URLs are required."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is None:
                continue
            if field.type in ("bool", bool):
                values[field.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif field.type in ("float", float):
                values[field.name] = float(raw)
            elif field.type in ("int", int):
                values[field.name] = int(raw)
            else:
                values[field.name] = raw
        for required in ("database_url", "stripe_url"):
            if required not in values:
                raise ValueError(f"{ENV_PREFIX}{required.upper()} is not set")
        return cls(**values)  # type: ignore[arg-type]
