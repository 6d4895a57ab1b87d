"""The stateful payment model: PaymentModel, its environment, exploration and replay."""

from harness.hypothesis_profiles import profile, register_profiles
from harness.model.environment import Environment, ModelConfig
from harness.model.explore import ExploreResult, explore
from harness.model.machine import PaymentModel
from harness.model.parts import PartsRequest, open_environment
from harness.model.replay import replaying

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
