"""`python:module:factory`: importing the factory and checking what it builds (exits 2 and 3)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from harness.clients.service import REQUIRED_METHODS, Service, missing_methods
from harness.errors import ProvisionError, UsageError

Factory = Callable[[str, str], object]


def importable_from_cwd() -> None:
    # As `python -m` and uvicorn do: a module of the project payrace runs in is importable.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def module_absent(exc: ModuleNotFoundError, module: str) -> bool:
    """The named module (or a package on its path) does not exist, as opposed to a module
    that exists but fails on one of its own imports."""
    parts = module.split(".")
    return exc.name in {".".join(parts[: i + 1]) for i in range(len(parts))}


def load_factory(value: str) -> Factory:
    """Import `module:factory`. Absent module or attribute: UsageError (exit 2); a module
    that raises while importing: ProvisionError (exit 3)."""
    module_name, _, attr = value.partition(":")
    label = f"python:{value}"
    importable_from_cwd()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if module_absent(exc, module_name):
            raise UsageError(
                f"--target {label}: no module named {exc.name!r} (run payrace where it is "
                "importable, or install it); expected python:package.module:factory"
            ) from None
        raise ProvisionError(f"--target {label}: importing {module_name} failed: {exc}") from None
    except Exception as exc:  # the user's module raised while importing: a broken part
        raise ProvisionError(
            f"--target {label}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise UsageError(
            f"--target {label}: module {module_name!r} has no attribute {attr!r}; expected "
            "python:package.module:factory naming a callable factory(database_url, stripe_url)"
        )
    if not callable(factory):
        raise UsageError(
            f"--target {label}: {module_name}.{attr} is not callable; expected a factory "
            "called as factory(database_url, stripe_url)"
        )
    checked: Factory = factory
    return checked


def build_service(factory: Factory, label: str, database_url: str, stripe_url: str) -> Service:
    """Call the factory; it raising or returning an object without the protocol is exit 3."""
    try:
        service = factory(database_url, stripe_url)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        raise ProvisionError(
            f"--target {label}: the factory raised {type(exc).__name__}: {text}"
        ) from None
    missing = missing_methods(service)
    if missing:
        raise ProvisionError(
            f"--target {label}: the factory returned a {type(service).__name__} without "
            f"{', '.join(missing)}; a python: target offers {', '.join(REQUIRED_METHODS)} "
            "(docs/TARGETS.md)"
        )
    assert isinstance(service, Service)  # runtime_checkable: the methods are there
    return service
