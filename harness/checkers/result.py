"""What a checker returns: a three-state result and violations that carry their own evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

Validity = Literal["valid", "invalid", "unknown"]
Severity = Literal["error", "warning"]

VALIDITIES: tuple[Validity, ...] = ("valid", "invalid", "unknown")
SEVERITIES: tuple[Severity, ...] = ("error", "warning")


@dataclass(frozen=True)
class Violation:
    """One broken invariant for one payment, with the ops, ledger entries and rows that show it.

    Times are seconds on the history's clock (ledger wall times are mapped onto it), so a
    report can draw ops and ledger entries on one timeline.
    """

    checker: str
    payment_id: str | None
    because: str
    operations: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    first_time: float | None = None
    last_time: float | None = None
    kind: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    db: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the report and summary.json use it as is)."""
        return {
            "checker": self.checker,
            "payment_id": self.payment_id,
            "kind": self.kind,
            "because": self.because,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "operations": [dict(op) for op in self.operations],
            "ledger": [dict(entry) for entry in self.ledger],
            "db": [dict(row) for row in self.db],
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Violation:
        """Rebuild a violation from `to_dict()` output (e.g. read back from summary.json)."""
        return cls(
            checker=str(data["checker"]),
            payment_id=data.get("payment_id"),
            because=str(data["because"]),
            operations=list(data.get("operations", [])),
            ledger=list(data.get("ledger", [])),
            first_time=data.get("first_time"),
            last_time=data.get("last_time"),
            kind=str(data.get("kind", "")),
            details=dict(data.get("details", {})),
            db=list(data.get("db", [])),
        )


@dataclass(frozen=True)
class CheckResult:
    """One checker's verdict: validity, how much it matters, a sentence, violations and counts."""

    checker: str
    validity: Validity
    severity: Severity = "error"
    summary: str = ""
    violations: list[Violation] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.validity not in VALIDITIES:
            raise ValueError(f"validity={self.validity!r}, expected one of valid, invalid, unknown")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity={self.severity!r}, expected error or warning")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the `checks` entries of summary.json."""
        return {
            "checker": self.checker,
            "validity": self.validity,
            "severity": self.severity,
            "summary": self.summary,
            "violations": [v.to_dict() for v in self.violations],
            "stats": dict(self.stats),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from `to_dict()` output."""
        return cls(
            checker=str(data["checker"]),
            validity=cast(Validity, data["validity"]),
            severity=cast(Severity, data.get("severity", "error")),
            summary=str(data.get("summary", "")),
            violations=[Violation.from_dict(v) for v in data.get("violations", [])],
            stats=dict(data.get("stats", {})),
        )


__all__ = ["SEVERITIES", "VALIDITIES", "CheckResult", "Severity", "Validity", "Violation"]
