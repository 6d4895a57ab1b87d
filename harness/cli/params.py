"""Click parameter types for payrace's flags: each parses with the runner's one rule for it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

__all__ = [
    "DATABASE_URL_ENVVAR",
    "DURATION",
    "FAULTS",
    "RATE",
    "SECONDS",
    "Parsed",
    "count",
    "typed_database_url",
]

# The variable provision_postgres falls back to (harness.provision.postgres.ENV_DATABASE_URL),
# spelled here so that --help can show it without importing SQLAlchemy; a test keeps them equal.
DATABASE_URL_ENVVAR = "PAYRACE_DATABASE_URL"


if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # generic only in click's stubs and newer releases; pyproject accepts click 8.1
    _ParamType = click.ParamType


def _flag(param: click.Parameter | None) -> str:
    """The flag as the user reads it in --help (`--users`, not `-u` or `users`)."""
    return param.opts[0] if param is not None and param.opts else "value"


class Parsed(_ParamType):
    """A flag parsed by one of payrace's parsers; bad input is its one-line UsageError (exit 2).

    The parser's message, not click's `Invalid value for …` block: it names the flag, the
    value and what is accepted in a single `payrace: …` line, as the CLI always has. Parsers
    are imported when a value is parsed, so a command's --help stays light.
    """

    def __init__(self, name: str, parsed: type, parse: Callable[[str, str], Any]) -> None:
        self.name = name
        self.parsed = parsed
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.parsed) and not isinstance(value, bool):
            return value  # a default already of the right type
        return self._parse(str(value), _flag(param))


def _spec() -> Any:
    """harness.runner.spec, where the rule for each kind of value lives."""
    return importlib.import_module("harness.runner.spec")


def _faults(text: str, flag: str) -> tuple[str, ...]:
    from harness.model.parts import parse_faults  # the model loads with the command

    return parse_faults(text)


def count(minimum: int | None = 1, maximum: int | None = None) -> Parsed:
    """A whole number within bounds (None: unbounded): `--users 10`, `--workers 1-8`."""
    return Parsed("integer", int,
                  lambda text, flag: _spec().parse_count(text, flag, minimum, maximum))


SECONDS = Parsed("seconds", float, lambda text, flag: _spec().parse_seconds(text, flag))
RATE = Parsed("number", float, lambda text, flag: _spec().parse_rate(text, flag))
DURATION = Parsed("duration", float, lambda text, flag: _spec().parse_duration(text, flag))
FAULTS = Parsed("faults", tuple, _faults)


def typed_database_url(ctx: click.Context, value: str | None) -> str | None:
    """--database-url as typed; None when it came from PAYRACE_DATABASE_URL.

    The variable names the server payrace makes its own fresh databases on (reference and
    python: targets), never your HTTP service's database, which --db-query reads and chaos
    cuts: only a URL given on the command line is that.
    """
    if ctx.get_parameter_source("database_url") is ParameterSource.ENVIRONMENT:
        return None
    return value
