"""The command line's conventions: one error type with its code, typed flags, env vars shown."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.params import DATABASE_URL_ENVVAR
from harness.errors import (
    EXIT_INTERRUPTED,
    EXIT_PROVISION,
    EXIT_USAGE,
    PayraceError,
    ProvisionError,
    UsageError,
)
from harness.provision.postgres import ENV_DATABASE_URL


def test_a_payrace_error_is_a_click_exception_shown_as_one_payrace_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """click's main prints it and exits with its code: no command maps errors itself."""
    assert issubclass(PayraceError, click.ClickException)
    assert UsageError("x").exit_code == EXIT_USAGE
    assert ProvisionError("y").exit_code == EXIT_PROVISION
    ProvisionError("PostgreSQL at 127.0.0.1:9 refused").show()
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "payrace: PostgreSQL at 127.0.0.1:9 refused\n")


@pytest.mark.parametrize("command", ["run", "explore", "serve"])
def test_help_shows_the_environment_variable_read_for_the_database(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"[env var: {ENV_DATABASE_URL}]" in " ".join(result.output.split())
    assert DATABASE_URL_ENVVAR == ENV_DATABASE_URL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "51"], "--steps: expected a whole number between 1 and 50, got '51'"),
        (["--workers", "0"], "--workers: expected a whole number between 1 and 8, got '0'"),
        (["--seed", "-1"], "--seed: expected a whole number >= 0, got '-1'"),
        (["--settle", "0"], "--settle: expected a positive number of seconds, got '0'"),
        (["--service-pid", "x"], "--service-pid: expected a whole number >= 1, got 'x'"),
    ],
)
def test_a_bad_numeric_flag_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    """Refused while parsing, before the target is looked at: one `payrace:` line, no usage."""
    result = CliRunner().invoke(main, ["explore", "--target", "reference:safe", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"payrace: {message}"]
    assert result.stdout == ""


def test_run_accepts_a_negative_seed_as_before() -> None:
    """`payrace run --seed` takes any whole number; the next check (the target) speaks."""
    result = CliRunner().invoke(main, ["run", "steady", "--seed", "-3", "--target", "ftp://x"])
    assert result.exit_code == 2
    assert "--seed" not in result.stderr and "--target" in result.stderr



def test_the_database_variable_is_never_taken_for_your_services_own_database() -> None:
    """PAYRACE_DATABASE_URL names a server for payrace's databases: --db-query still needs the
    flag, as it did before --help showed the variable."""
    result = CliRunner().invoke(
        main,
        ["explore", "--target", "http://127.0.0.1:9", "--stripe-url", "http://127.0.0.1:9",
         "--db-query", "SELECT id, status, charge_id, amount FROM payments"],
        env={ENV_DATABASE_URL: "postgresql://u@127.0.0.1:9/x"},
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "payrace: --db-query needs --database-url: the service's own database to run it on"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--workers", "0"],
         "payrace: Invalid value for '--workers': 0 is not in the range x>=1. "
         "(see 'payrace serve --help')"),
        (["stand-in", "--port", "99999"],
         "payrace: Invalid value for '--port': 99999 is not in the range 0<=x<=65535. "
         "(see 'payrace stand-in --help')"),
        (["run", "--bogus"], "payrace: No such option '--bogus'."),
        (["nonsense"], "payrace: No such command 'nonsense'. (see 'payrace --help')"),
    ],
)
def test_what_click_itself_refuses_is_one_payrace_line_and_exit_2(
    args: list[str], message: str
) -> None:
    """An unknown flag or command, a number out of click's range: one line, exit 2."""
    result = CliRunner().invoke(main, args, prog_name="payrace")
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Usage:" not in result.output


def test_help_and_version_still_exit_0() -> None:
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "--help"]).exit_code == 0
    bare = CliRunner().invoke(main, [])
    assert bare.exit_code == EXIT_USAGE and "Commands:" in bare.output


def test_ctrl_c_in_a_command_is_one_line_and_exit_130(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A command that does not catch Ctrl-C itself (check, report) exits as documented,
    130; never 1, which CI would read as a violation."""

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.runner.check.check", interrupted)
    result = CliRunner().invoke(main, ["check", str(tmp_path)], prog_name="payrace")
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert result.stderr.strip().splitlines()[-1] == "payrace: interrupted (Ctrl-C)"
