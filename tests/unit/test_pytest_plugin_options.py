"""Every --payrace-* option is also an ini key: typed, the command line over the ini file."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

PROBE = """
from harness.pytest_plugin import setting

def test_settings(pytestconfig):
    print("SETTINGS", {key: setting(pytestconfig, key) for key in (
        "payrace_target", "payrace_workers", "payrace_settle", "payrace_seed",
        "payrace_profile", "payrace_faults")})
"""


def _settings(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(PROBE)
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    (line,) = [line for line in result.outlines if "SETTINGS {" in line]
    return line


def test_defaults_are_typed_when_nothing_is_set(pytester: pytest.Pytester) -> None:
    line = _settings(pytester)
    assert "'payrace_target': None, 'payrace_workers': 2, 'payrace_settle': 10.0" in line
    assert "'payrace_seed': None, 'payrace_profile': 'dev', 'payrace_faults': 'all'" in line


def test_an_ini_key_is_honoured_and_typed(pytester: pytest.Pytester) -> None:
    """pyproject.toml's [tool.pytest.ini_options] sets what --payrace-* would."""
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        payrace_target = "reference:safe"
        payrace_workers = "3"
        payrace_settle = "2.5"
        payrace_seed = "7"
        payrace_profile = "ci"
        """
    )
    line = _settings(pytester)
    assert "'payrace_target': 'reference:safe', 'payrace_workers': 3, 'payrace_settle': 2.5" in line
    assert "'payrace_seed': 7, 'payrace_profile': 'ci'" in line


def test_the_command_line_wins_over_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npayrace_target = reference:safe\npayrace_workers = 3\n")
    line = _settings(pytester, "--payrace-target", "reference:naive", "--payrace-workers", "4")
    assert "'payrace_target': 'reference:naive', 'payrace_workers': 4" in line


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("payrace_workers = many", "payrace_workers = 'many' in the pytest configuration; "
                                   "expected a whole number"),
        ("payrace_profile = weekly", "payrace_profile = 'weekly' in the pytest configuration; "
                                     "expected dev, ci, nightly"),
    ],
)
def test_a_bad_ini_value_stops_pytest_naming_the_key(
    pytester: pytest.Pytester, ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: payrace: {message}" in result.errlines, result.errlines


def test_a_bad_flag_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--payrace-workers", "two")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --payrace-workers: invalid int value: 'two'*"])
