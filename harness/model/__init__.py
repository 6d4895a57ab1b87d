"""The stateful payment model: PaymentModel, its environment, exploration and replay."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.model.environment import Environment, ModelConfig
    from harness.model.explore import ExploreResult, explore
    from harness.model.machine import PaymentModel
    from harness.model.parts import PartsRequest, open_environment
    from harness.model.profiles import profile, register_profiles
    from harness.model.replay import replaying

# Each name loads its module on first use: Hypothesis imports `harness.model.profiles` (the
# entry point registering payrace's profiles) whenever it is imported, and that must cost
# Hypothesis alone, not the model's SQLAlchemy, httpx and stand-in.
_HOME = {
    "Environment": "environment",
    "ModelConfig": "environment",
    "ExploreResult": "explore",
    "explore": "explore",
    "PaymentModel": "machine",
    "PartsRequest": "parts",
    "open_environment": "parts",
    "profile": "profiles",
    "register_profiles": "profiles",
    "replaying": "replay",
}

__all__ = [
    "Environment",
    "ExploreResult",
    "ModelConfig",
    "PartsRequest",
    "PaymentModel",
    "explore",
    "open_environment",
    "profile",
    "register_profiles",
    "replaying",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'harness.model' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.model.{home}"), name)
