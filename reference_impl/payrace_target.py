"""The reference service as a payrace target provider (entry point `payrace.targets`: reference)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from harness.targets.provider import Schema, ServeCommand, ServeSettings
from reference_impl.config import ENV_VARIANT, TEST_API_KEY, ServiceConfig
from reference_impl.variants import VARIANTS, unknown_variant_message

if TYPE_CHECKING:
    from harness.model.targets import Target
    from harness.targets.spec import TargetSpec


def _apply_schema(database_url: str) -> None:
    # SQLAlchemy is imported only when a database is made, not when variants are listed.
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from reference_impl.schema import ensure_schema

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()


class ReferenceProvider:
    """payrace's own variants: in-process for explore, served by uvicorn for run/serve."""

    name = "reference"
    logger_name = "reference_impl"
    test_api_key = TEST_API_KEY

    def variants(self) -> list[str]:
        return list(VARIANTS)

    def unknown_variant_message(self, variant: str) -> str:
        return unknown_variant_message(variant)

    def schema(self) -> Schema:
        from reference_impl.schema import schema_fingerprint

        return Schema(schema_fingerprint(), _apply_schema)

    def inprocess_target(
        self, spec: TargetSpec, database_url: str, stripe_url: str, workers: int,
        *, failpoints: bool,
    ) -> Target:  # fmt: skip
        from reference_impl.inprocess_target import ReferenceTarget

        return ReferenceTarget(spec, database_url, stripe_url, workers, failpoints=failpoints)

    def serve_command(self, settings: ServeSettings) -> ServeCommand:
        overrides: dict[str, Any] = {
            "lease_seconds": settings.lease_seconds,
            "key_lifetime_seconds": settings.key_lifetime_seconds,
            "stripe_timeout_seconds": settings.stripe_timeout_seconds,
        }
        config = ServiceConfig(
            database_url=settings.database_url,
            stripe_url=settings.stripe_url,
            stripe_api_key=settings.stripe_api_key,
            failpoints=settings.failpoints,
            reconcile_interval_seconds=settings.reconcile_interval_seconds,
            **{k: v for k, v in overrides.items() if v is not None},
        )
        return ServeCommand(
            argv=[sys.executable, "-m", "reference_impl.launcher"],
            env={**config.to_env(), ENV_VARIANT: settings.variant},
        )


PROVIDER = ReferenceProvider()
