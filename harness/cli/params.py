"""Click parameter types for payrace's flags: each parses with the runner's one rule for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

__all__ = [
    "DATABASE_URL_ENVVAR",
    "Count",
    "Duration",
    "Faults",
    "Rate",
    "Seconds",
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


class _Parsed(_ParamType):
    """A flag parsed by one of payrace's parsers; bad input is its one-line UsageError (exit 2).

    The parser's message, not click's `Invalid value for …` block: it names the flag, the
    value and what is accepted in a single `payrace: …` line, as the CLI always has. Parsers
    are imported when a value is parsed, so a command's --help stays light.
    """

    parsed: type = object

    def parse(self, text: str, flag: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.parsed) and not isinstance(value, bool):
            return value  # a default already of the right type
        return self.parse(str(value), _flag(param))


class Count(_Parsed):
    """A whole number within bounds: `--users 10`, `--workers 1-8`, `--seed 0`."""

    name = "integer"
    parsed = int

    def __init__(self, minimum: int | None = 1, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, text: str, flag: str) -> int:
        from harness.runner.spec import parse_count

        return parse_count(text, flag, self.minimum, self.maximum)


class Seconds(_Parsed):
    """A positive number of seconds: `--settle 15`, `--max-time 2.5`."""

    name = "seconds"
    parsed = float

    def parse(self, text: str, flag: str) -> float:
        from harness.runner.spec import parse_seconds

        return parse_seconds(text, flag)


class Rate(_Parsed):
    """A positive number: `--spawn-rate 5` users per second."""

    name = "number"
    parsed = float

    def parse(self, text: str, flag: str) -> float:
        from harness.runner.spec import parse_rate

        return parse_rate(text, flag)


class Duration(_Parsed):
    """A Locust-style duration or plain seconds: `30s`, `2m`, `1m30s`, `45`."""

    name = "duration"
    parsed = float

    def parse(self, text: str, flag: str) -> float:
        from harness.runner.spec import parse_duration

        return parse_duration(text, flag)


class Faults(_Parsed):
    """`all`, `none` or a comma list of fault families, as a tuple of family names."""

    name = "faults"
    parsed = tuple

    def parse(self, text: str, flag: str) -> tuple[str, ...]:
        from harness.model.parts import parse_faults  # the model loads with the command

        return parse_faults(text)


def typed_database_url(ctx: click.Context, value: str | None) -> str | None:
    """--database-url as typed; None when it came from PAYRACE_DATABASE_URL.

    The variable names the server payrace makes its own fresh databases on (reference and
    python: targets), never your HTTP service's database, which --db-query reads and chaos
    cuts: only a URL given on the command line is that.
    """
    if ctx.get_parameter_source("database_url") is ParameterSource.ENVIRONMENT:
        return None
    return value
