"""The errors payrace shows a user as one line, each with its documented exit code."""

from __future__ import annotations

# Exit codes of docs/CONTRACTS.md: the CLI's contract with CI systems.
EXIT_VERIFIED = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_PROVISION = 3
EXIT_INCONCLUSIVE = 4
# A run's verdict word (summary.json) → its exit code: the one map every command uses.
EXIT_CODES: dict[str, int] = {
    "verified": EXIT_VERIFIED,
    "violation": EXIT_VIOLATION,
    "inconclusive": EXIT_INCONCLUSIVE,
}


class PayraceError(Exception):
    """An error meant for the user: its message is one line, its exit code documented."""

    exit_code: int = EXIT_USAGE


class UsageError(PayraceError):
    """Bad input: a flag, a target, a file that payrace cannot accept (exit 2)."""

    exit_code = EXIT_USAGE


class ProvisionError(PayraceError):
    """A real part (PostgreSQL, the stand-in, the target) could not start or be reached (exit 3)."""

    exit_code = EXIT_PROVISION
