"""Checkers: pure functions from a run's evidence to three-state results with evidence."""

from harness.checkers.charge_bounds import check_charge_bounds
from harness.checkers.compose import Checker, check_safe, checker_name, compose, verdict
from harness.checkers.db_consistency import check_db_consistency
from harness.checkers.enough_work import (
    DEFAULT_MIN_CHARGES,
    DEFAULT_MIN_COMPLETED,
    check_enough_work,
)
from harness.checkers.evidence import Evidence, load_evidence
from harness.checkers.no_duplicate_charge import check_no_duplicate_charge
from harness.checkers.registry import BUILTIN, CheckerEntry
from harness.checkers.result import CheckResult, Severity, Validity, Violation
from harness.checkers.retry_key_stability import check_retry_key_stability
from harness.checkers.suite import SAFETY_CHECKERS, run_all, standard_checkers
from harness.checkers.target_contract import check_target_contract

__all__ = [
    "BUILTIN",
    "DEFAULT_MIN_CHARGES",
    "DEFAULT_MIN_COMPLETED",
    "SAFETY_CHECKERS",
    "CheckResult",
    "Checker",
    "CheckerEntry",
    "Evidence",
    "Severity",
    "Validity",
    "Violation",
    "check_charge_bounds",
    "check_db_consistency",
    "check_enough_work",
    "check_no_duplicate_charge",
    "check_retry_key_stability",
    "check_safe",
    "check_target_contract",
    "checker_name",
    "compose",
    "load_evidence",
    "run_all",
    "standard_checkers",
    "verdict",
]
