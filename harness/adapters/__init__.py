"""Adapters: how payrace speaks to a service whose API is not payrace's own contract."""

from harness.adapters.api import REQUIRED, Adapter, Answer, Request, fail, info, ok
from harness.adapters.contract import ContractAdapter
from harness.adapters.judge import judge
from harness.adapters.load import ENV_ADAPTER, adapter_from_env, load_adapter

__all__ = [
    "ENV_ADAPTER",
    "REQUIRED",
    "Adapter",
    "Answer",
    "ContractAdapter",
    "Request",
    "adapter_from_env",
    "fail",
    "info",
    "judge",
    "load_adapter",
    "ok",
]
