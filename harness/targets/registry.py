"""Finding target providers: packages registered in the `payrace.targets` entry point group."""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points

from harness.errors import UsageError
from harness.targets.provider import TargetProvider

GROUP = "payrace.targets"
# The provider `reference:<variant>` targets, `payrace serve` and `payrace demo` name.
REFERENCE = "reference"


def provider_names() -> list[str]:
    """Names of the installed providers (cheap: nothing is imported)."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


@functools.cache
def get_provider(name: str = REFERENCE) -> TargetProvider:
    """The installed provider called `name`; a UsageError (exit 2) when none is installed."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        installed = ", ".join(provider_names()) or "none"
        raise UsageError(
            f"no payrace target provider named {name!r} is installed (entry point group "
            f"{GROUP!r}; installed: {installed}); reinstall payrace with its reference "
            "implementation, or use --target python:module:factory or http://host:port"
        )
    try:
        provider: TargetProvider = found[0].load()
    except Exception as exc:  # a broken package must not end in a traceback
        raise UsageError(
            f"the payrace target provider {name!r} ({found[0].value}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return provider


def installed_variants(name: str = REFERENCE) -> list[str]:
    """The provider's variant names, or none when it is not installed (for help texts)."""
    try:
        return get_provider(name).variants()
    except UsageError:
        return []


def quiet_provider_logs(kind: str) -> None:
    """Quiet a provider's logger while payrace drives it: its failpoints warn each time they
    fire, noise on the terminal. Other targets' logs are theirs and left alone."""
    if kind == REFERENCE:
        logging.getLogger(get_provider(REFERENCE).logger_name).setLevel(logging.ERROR)
