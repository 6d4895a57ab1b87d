"""Load a user's adapter from `path/to/file.py:ClassName`; every mistake is one line, exit 2."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from harness.adapters.api import REQUIRED, Adapter
from harness.adapters.contract import ContractAdapter
from harness.errors import UsageError

# How `payrace run` hands the adapter to Locust's processes (and how `locust -f` takes one).
ENV_ADAPTER = "PAYRACE_ADAPTER"
ACCEPTED = "path/to/file.py:ClassName"


def load_adapter(spec: str | None) -> Adapter:
    """The adapter `spec` names, instantiated; None or "" → the default contract adapter."""
    if not spec:
        return ContractAdapter()
    path_text, sep, name = spec.strip().rpartition(":")
    if not sep or not path_text or not name.isidentifier():
        raise UsageError(f"--adapter: cannot use {spec!r}; expected {ACCEPTED}")
    path = Path(path_text)
    if path.suffix != ".py":
        raise UsageError(f"--adapter: {path_text!r} is not a .py file; expected {ACCEPTED}")
    if not path.is_file():
        raise UsageError(f"--adapter: {path_text} does not exist; expected {ACCEPTED}")
    module = _import(path)
    cls = getattr(module, name, None)
    if cls is None:
        found = sorted(k for k, v in vars(module).items() if isinstance(v, type)
                       and getattr(v, "__module__", None) == module.__name__)
        raise UsageError(
            f"--adapter: {path_text} has no {name!r} (classes there: {', '.join(found) or 'none'})"
        )
    missing = [m for m in REQUIRED if not callable(getattr(cls, m, None))]
    if missing:
        raise UsageError(
            f"--adapter: {path_text}:{name} lacks {', '.join(missing)} "
            f"(an adapter has {', '.join(REQUIRED)}; docs/TARGETS.md)"
        )
    try:
        adapter: Adapter = cls() if isinstance(cls, type) else cls
    except Exception as exc:
        raise UsageError(
            f"--adapter: {path_text}:{name}() failed: {type(exc).__name__}: {exc}"
        ) from None
    return adapter


def _import(path: Path) -> ModuleType:
    module_name = f"payrace_adapter_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"--adapter: cannot import {path}; expected {ACCEPTED}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: name it and its error, never a traceback
        del sys.modules[module_name]
        raise UsageError(
            f"--adapter: {path} does not import: {type(exc).__name__}: {exc}"
        ) from None
    return module


def adapter_from_env() -> Adapter:
    """The adapter `PAYRACE_ADAPTER` names (Locust processes), else the default contract."""
    return load_adapter(os.environ.get(ENV_ADAPTER, "").strip() or None)


def adapter_label(spec: str | None) -> str:
    """How summaries and banners name the adapter in use."""
    return spec.strip() if spec else "payrace contract (docs/TARGETS.md)"


def checked_adapter(spec: str | None, target_kind: str) -> str | None:
    """Validate `--adapter` up front (exit 2 before any part starts); its path made absolute.

    Absolute, so the counterexample file and Locust's processes find it from anywhere.
    """
    if spec is None:
        return None
    if target_kind != "http":
        raise UsageError("--adapter applies to your own service (--target http://…)")
    load_adapter(spec)
    path_text, _, name = spec.strip().rpartition(":")
    return f"{Path(path_text).resolve()}:{name}"
