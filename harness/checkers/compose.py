"""Combining checkers as Jepsen does: worst validity wins, a crashing checker yields unknown."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable

from harness.checkers.evidence import Evidence
from harness.checkers.result import CheckResult, Severity, Validity
from harness.errors import EXIT_CODES

Checker = Callable[[Evidence], CheckResult]

_RANK: dict[Validity, int] = {"valid": 0, "unknown": 1, "invalid": 2}
_VERDICTS: dict[Validity, str] = {"valid": "verified", "unknown": "inconclusive",
                                  "invalid": "violation"}


def compose(results: Iterable[CheckResult]) -> Validity:
    """The run's validity: invalid beats unknown beats valid; warnings never change it.

    No error-severity result at all is `unknown`: a run that checked nothing proved nothing.
    """
    worst: Validity | None = None
    for result in results:
        if result.severity == "warning":
            continue
        if worst is None or _RANK[result.validity] > _RANK[worst]:
            worst = result.validity
    return worst if worst is not None else "unknown"


def verdict(validity: Validity) -> tuple[str, int]:
    """The summary.json verdict word and exit code (docs/CONTRACTS.md) of a composed validity."""
    word = _VERDICTS.get(validity, "inconclusive")
    return word, EXIT_CODES[word]


def checker_name(checker: Checker) -> str:
    """`check_no_duplicate_charge` → `no-duplicate-charge`; anything else by its repr."""
    name = getattr(checker, "__name__", None)
    if not isinstance(name, str):
        return repr(checker)
    return name.removeprefix("check_").replace("_", "-")


def check_safe(checker: Checker, name: str | None = None, severity: Severity = "error") -> Checker:
    """Wrap a checker so that raising (or returning nonsense) yields `unknown`, not a crash."""
    label = name or checker_name(checker)

    def safe(evidence: Evidence) -> CheckResult:
        try:
            result = checker(evidence)
        except Exception as exc:
            return CheckResult(
                checker=label,
                validity="unknown",
                severity=severity,
                summary=f"checker {label} raised {type(exc).__name__}: {exc}",
                stats={
                    "exception": type(exc).__name__,
                    "message": str(exc),
                    "traceback": traceback.format_exc(limit=8),
                },
            )
        if not isinstance(result, CheckResult):
            return CheckResult(
                checker=label,
                validity="unknown",
                severity=severity,
                summary=f"checker {label} returned {type(result).__name__}, not a CheckResult",
                stats={"returned": type(result).__name__},
            )
        return result

    safe.__name__ = getattr(checker, "__name__", label)
    safe.__doc__ = checker.__doc__
    return safe


__all__ = ["Checker", "check_safe", "checker_name", "compose", "verdict"]
