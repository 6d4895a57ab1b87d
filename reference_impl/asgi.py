"""The uvicorn entry point: build the app of one worker process from PAYRACE_SERVICE_* variables."""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette

from reference_impl.app import create_app
from reference_impl.config import ENV_READY_DIR, ENV_VARIANT, ServiceConfig


def app_from_env() -> Starlette:
    """`uvicorn --factory reference_impl.asgi:app_from_env`: one call per worker process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # The SDK logs every request at INFO; the stand-in's ledger already records them.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    variant = os.environ.get(ENV_VARIANT)
    if not variant:
        raise RuntimeError(f"{ENV_VARIANT} is not set: which variant should this worker serve?")
    return create_app(variant, ServiceConfig.from_env(), ready_dir=os.environ.get(ENV_READY_DIR))
