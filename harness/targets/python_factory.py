"""`python:module:factory`: importing the factory and checking what it builds (exits 2 and 3)."""

from __future__ import annotations

from collections.abc import Callable

from harness.clients.service import REQUIRED_METHODS, Service, missing_methods
from harness.errors import ProvisionError, UsageError
from harness.importing import import_user_module

Factory = Callable[[str, str], object]


def load_factory(value: str) -> Factory:
    """Import `module:factory`. Absent module or attribute: UsageError (exit 2); a module
    that raises while importing: ProvisionError (exit 3)."""
    module_name, _, attr = value.partition(":")
    label = f"python:{value}"
    # The user's module raising while importing is a broken part (exit 3).
    module = import_user_module(
        module_name, f"--target {label}", "python:package.module:factory", ProvisionError
    )
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
