"""The user's own checkers: the `payrace.checkers` entry points and `--checker module:function`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from importlib.metadata import entry_points
from typing import cast

from harness.checkers.compose import Checker, checker_name
from harness.checkers.merge import Merge
from harness.checkers.registry import BUILTIN, CheckerEntry
from harness.checkers.result import SEVERITIES, Severity
from harness.errors import UsageError
from harness.importing import import_user_module

GROUP = "payrace.checkers"
ACCEPTED = "module:function naming a checker function (evidence) -> CheckResult"


def user_checkers(specs: Iterable[str] = (), flag: str = "--checker") -> tuple[CheckerEntry, ...]:
    """The installed entry-point checkers, then each `module:function` in `specs`, in order.

    Every mistake is a UsageError (exit 2) naming the spec and what is accepted, raised
    before any work starts: a module that does not import, a missing attribute, something
    not callable, a severity other than error or warning, a name already taken.
    """
    found = [*_entry_point_checkers(), *(load_checker(spec, flag) for spec in specs)]
    taken = {entry.name: "a built-in checker" for entry in BUILTIN}
    for entry in found:
        if entry.name in taken:
            raise UsageError(
                f"{entry.source}: a checker named {entry.name!r} is already registered "
                f"({taken[entry.name]}); give yours another name"
            )
        taken[entry.name] = entry.source
    return tuple(found)


def load_checker(spec: str, flag: str = "--checker") -> CheckerEntry:
    """Import `module:function`; its name is the function's without `check_`, `_` → `-`."""
    label = f"{flag} {spec}"
    module_name, sep, attr = spec.strip().partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise UsageError(f"{label}: expected {ACCEPTED}")
    module = import_user_module(module_name, label, ACCEPTED, UsageError)
    if not hasattr(module, attr):
        raise UsageError(f"{label}: module {module_name!r} has no attribute {attr!r}; "
                         f"expected {ACCEPTED}")
    check = getattr(module, attr)
    return replace(_entry(check, checker_name(check), label), option=spec.strip())


def _entry_point_checkers() -> list[CheckerEntry]:
    """Each entry point of the group is one checker, named by the entry point's name."""
    out = []
    for point in entry_points(group=GROUP):
        label = f"entry point {point.name} = {point.value} ({GROUP})"
        try:
            check = point.load()
        except Exception as exc:  # a broken package must not end in a traceback
            raise UsageError(f"{label} failed to load: {type(exc).__name__}: {exc}") from None
        out.append(_entry(check, point.name, label))
    return out


def _entry(check: object, name: str, label: str) -> CheckerEntry:
    if not callable(check):
        raise UsageError(f"{label}: it is a {type(check).__name__}, not callable; "
                         f"expected {ACCEPTED}")
    severity = getattr(check, "severity", "error")
    if severity not in SEVERITIES:
        raise UsageError(f"{label}: its severity attribute is {severity!r}; expected "
                         "'error' (the default: it decides the verdict) or 'warning'")
    merge = getattr(check, "merge", None)
    if merge is not None and not callable(merge):
        raise UsageError(f"{label}: its merge attribute is a {type(merge).__name__}, not "
                         "callable; expected a function (list of CheckResult) -> CheckResult")
    doc = (getattr(check, "__doc__", None) or "").strip()
    return CheckerEntry(
        name=name,
        check=cast(Checker, check),
        severity=cast(Severity, severity),
        description=doc.splitlines()[0] if doc else "",
        source=label,
        merge=cast(Merge | None, merge),
    )


__all__ = ["ACCEPTED", "GROUP", "load_checker", "user_checkers"]
