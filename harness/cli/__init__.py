"""The `payrace` command: one group, a module per subcommand, errors as one line and a code.

Every error meant for the user is a `harness.errors.PayraceError`, a `click.ClickException`:
click's own main prints it (`payrace: …`, one line on stderr) and exits with its code.
"""

from __future__ import annotations

import importlib

import click

from harness import __version__

# Subcommands live in their own modules and are imported only when named, so that
# `payrace --help` and a fast command never pay for Locust, Hypothesis or SQLAlchemy.
SUBCOMMANDS: dict[str, str] = {
    "stand-in": "harness.cli.standin_cmd:stand_in",
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


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="payrace")
def main() -> None:
    """payrace: find the ways your payment code can charge a customer twice."""
