"""The errors payrace shows a user as one line, each with its documented exit code."""

from __future__ import annotations

from typing import IO, Any

import click

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
# The shell's code for a run stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class PayraceError(click.ClickException):
    """An error meant for the user: its message is one line, its exit code documented.

    A `click.ClickException`, so the command line has one way out for every error: click
    prints it with `show()` and exits with `exit_code`; no command catches and maps it.
    """

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        # One line on stderr, `payrace: …`, rather than click's `Error: …`: scripts and CI
        # logs grep for the prefix, and docs/CONTRACTS.md shows it.
        click.echo(f"payrace: {self.format_message()}", file=file, err=file is None)


class UsageError(PayraceError):
    """Bad input: a flag, a target, a file that payrace cannot accept (exit 2)."""

    exit_code = EXIT_USAGE


class ProvisionError(PayraceError):
    """A real part (PostgreSQL, the stand-in, the target) could not start or be reached (exit 3)."""

    exit_code = EXIT_PROVISION


class Interrupted(PayraceError):
    """The user stopped a command with Ctrl-C; every part it started was stopped (exit 130)."""

    exit_code = EXIT_INTERRUPTED
