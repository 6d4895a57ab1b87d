"""Importing a module the user names (a target factory, a checker): each mistake is one line."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

from harness.errors import PayraceError, UsageError


def _importable_from_cwd() -> None:
    # As `python -m` and uvicorn do: a module of the project payrace runs in is importable.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _absent(exc: ModuleNotFoundError, module: str) -> bool:
    """The named module (or a package on its path) does not exist, as opposed to a module
    that exists but fails on one of its own imports."""
    parts = module.split(".")
    return exc.name in {".".join(parts[: i + 1]) for i in range(len(parts))}


def import_user_module(
    module_name: str, label: str, expected: str, broken: type[PayraceError]
) -> ModuleType:
    """Import `module_name` from the current directory or the installed packages.

    A module that does not exist is a UsageError (exit 2) naming it and `expected`; one that
    exists but raises while importing is `broken`, with `label` and the exception.
    """
    _importable_from_cwd()
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if _absent(exc, module_name):
            raise UsageError(
                f"{label}: no module named {exc.name!r} (run payrace where it is importable, "
                f"or install it); expected {expected}"
            ) from None
        raise broken(f"{label}: importing {module_name} failed: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise broken(
            f"{label}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None


__all__ = ["import_user_module"]
