"""`payrace run` refuses bad input: one line naming the flag, exit 2, before any load starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.runner.spec import available_scenarios


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def assert_one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert lines[0].startswith("payrace: ")
    return lines[0]


def test_unknown_scenario_lists_the_scenarios() -> None:
    """An unknown scenario exits 2 and names every scenario payrace has."""
    code, output = run("double_klick", "--target", "reference:safe")
    line = assert_one_line(output)
    assert code == 2
    assert "'double_klick'" in line
    for name in ("chaos", "double_click", "retry_storm", "steady"):
        assert name in line
    assert set(available_scenarios()) >= {"chaos", "double_click", "retry_storm", "steady"}


def test_missing_scenario_lists_the_scenarios() -> None:
    """No scenario at all is the same usage error, with the list."""
    code, output = run("--target", "reference:safe")
    assert code == 2 and "double_click" in assert_one_line(output)


@pytest.mark.parametrize(("flag", "value"), [
    ("--duration", "soon"), ("--duration", "0s"), ("--duration", "-5"), ("--duration", "10x"),
    ("--users", "many"), ("--users", "0"), ("--users", "2.5"), ("--spawn-rate", "fast"),
    ("--processes", "two"), ("--workers", "-1"), ("--seed", "abc"), ("--min-charges", "lots"),
])
def test_unparseable_number_names_the_flag(flag: str, value: str) -> None:
    """A duration or count that does not parse exits 2 with a line naming the flag and value."""
    code, output = run("steady", "--target", "reference:safe", flag, value)
    line = assert_one_line(output)
    assert code == 2
    assert flag in line and repr(value) in line


@pytest.mark.parametrize("target", ["reference:nope", "ftp://x", "safe", "http://"])
def test_bad_target_says_what_is_accepted(target: str) -> None:
    """A target that is neither reference:<variant> nor http://host:port exits 2."""
    code, output = run("steady", "--target", target)
    line = assert_one_line(output)
    assert code == 2 and "--target" in line and "reference:" in line


def test_http_target_needs_the_stand_in_url() -> None:
    """A foreign service without --stripe-url cannot be judged: the ledger would be blind."""
    code, output = run("steady", "--target", "http://127.0.0.1:9")
    assert code == 2 and "--stripe-url" in assert_one_line(output)


def test_unwritable_out_dir_fails_before_any_load(tmp_path: Path) -> None:
    """An --out that cannot be written exits 2 at once: no PostgreSQL, no service, no run dir."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, output = run("steady", "--target", "reference:safe", "--out", str(blocker / "reports"))
    line = assert_one_line(output)
    assert code == 2 and "--out" in line and str(blocker / "reports") in line
    assert blocker.read_text() == "not a directory"



@pytest.mark.parametrize("command", [
    ("run", "steady", "--stripe-url", "http://127.0.0.1:9"),
    ("explore", "--stripe-url", "http://127.0.0.1:9"),
])
def test_a_bad_adapter_is_exit_2_naming_the_file_before_anything_starts(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    """--adapter: a missing file, a file that does not import and a class lacking methods are
    each one line and exit 2, and no run directory is left behind."""
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half written')\n")
    partial = tmp_path / "partial.py"
    partial.write_text("class Api:\n    def create(self, amount, currency, customer): ...\n")
    reports = tmp_path / "reports"
    cases = [
        (f"{tmp_path}/nowhere.py:Api", "nowhere.py does not exist"),
        (f"{broken}:Api", "does not import: RuntimeError: half written"),
        (f"{partial}:Api", "lacks created, charge, charged, read, payment"),
        (f"{partial}", "expected path/to/file.py:ClassName"),
    ]
    for spec, expected in cases:
        result = CliRunner().invoke(main, [*command, "--target", "http://127.0.0.1:9",
                                           "--adapter", spec, "--reports-dir", str(reports)])
        line = assert_one_line(result.output)
        assert result.exit_code == 2, result.output
        assert "--adapter" in line and expected in line, line
    assert not reports.exists() or not any(reports.iterdir())


def test_an_adapter_on_a_reference_target_is_refused() -> None:
    code, output = run("steady", "--target", "reference:safe", "--adapter", "x.py:Api")
    assert code == 2 and "applies to your own service" in assert_one_line(output)
