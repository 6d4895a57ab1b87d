"""The `payrace` command: one group, a module per subcommand, errors as one line and a code.

Every error meant for the user is a `harness.errors.PayraceError`, a `click.ClickException`:
click's own main prints it (`payrace: …`, one line on stderr) and exits with its code. A flag
click itself cannot parse (unknown, out of range) is the same one line, exit 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from harness import __version__
from harness.errors import EXIT_INTERRUPTED

# Click ≥ 8.2 raises this for a group called with nothing: its message is the whole help.
_NO_ARGS: tuple[type[click.UsageError], ...] = tuple(
    t for t in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if t is not None)

# Subcommands live in their own modules and are imported only when named, so that
# `payrace --help` and a fast command never pay for Locust, Hypothesis or SQLAlchemy.
SUBCOMMANDS: dict[str, str] = {
    "stand-in": "harness.cli.standin_cmd:stand_in",
    "check": "harness.cli.check_cmd:check",
    "serve": "harness.cli.serve_cmd:serve",
    "report": "harness.cli.report_cmd:report",
    "run": "harness.cli.run_cmd:run",
    "demo": "harness.cli.demo_cmd:demo",
    "explore": "harness.cli.explore_cmd:explore",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def main(
        self, args: Sequence[str] | None = None, prog_name: str | None = None,
        complete_var: str | None = None, standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        """Click's main, but a usage error is one line (`payrace: …`), not a usage block."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS as exc:  # bare `payrace`: the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "payrace"
            click.echo(f"payrace: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            # click's word for Ctrl-C (or stdin closed at a prompt, which payrace never shows)
            # in a command that does not stop its own parts first: the documented 130, never
            # 1, which is a violation's code.
            click.echo("payrace: interrupted (Ctrl-C)", err=True)
            sys.exit(EXIT_INTERRUPTED)
        # Without standalone mode click returns what `ctx.exit(code)` asked for.
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="payrace")
def main() -> None:
    """payrace: find the ways your payment code can charge a customer twice."""
