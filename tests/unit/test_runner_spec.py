"""The runner's boundary: durations, counts, targets and scenarios are parsed or refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.runner.load import RUNNER_OWNED, locust_command, scenario_knobs
from harness.runner.spec import (
    RunSpec,
    Target,
    parse_count,
    parse_duration,
    parse_target,
    resolve_scenario,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0), ("45", 45.0),
    ("0.5s", 0.5), (" 10S ", 10.0),
])
def test_durations_parse(text: str, seconds: float) -> None:
    """Locust-style durations and plain seconds are accepted."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-3s", "soon", "1d", "s", "3m2h"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match=r"--duration: expected a duration like 30s"):
        parse_duration(text)


def test_counts_need_whole_numbers_at_least_the_minimum() -> None:
    assert parse_count("8", "--users") == 8
    for bad in ("0", "-1", "1.5", "eight", ""):
        with pytest.raises(UsageError, match="--users: expected a whole number >= 1"):
            parse_count(bad, "--users")


def test_targets() -> None:
    """reference:<variant> for the known variants, http(s)://host[:port] for anything else."""
    assert parse_target("reference:pr145") == Target("reference", "pr145")
    assert parse_target("http://127.0.0.1:8000/").url == "http://127.0.0.1:8000"
    with pytest.raises(UsageError, match=r"unknown variant 'nope'.*naive"):
        parse_target("reference:nope")


def test_scenarios_by_name_or_path(tmp_path: Path) -> None:
    """A scenario is one of payrace's own, or the path of the user's locustfile."""
    assert resolve_scenario("retry_storm").name == "retry_storm.py"
    assert resolve_scenario("steady.py").name == "steady.py"
    mine = tmp_path / "mine.py"
    mine.write_text("")
    assert resolve_scenario(str(mine)) == mine.resolve()
    for bad in ("common", "__init__", "nope", str(tmp_path / "missing.py")):
        with pytest.raises(UsageError, match="Unknown scenario"):
            resolve_scenario(bad)


def test_locust_command_is_headless_with_csv_and_processes(tmp_path: Path) -> None:
    """The Locust command: users, rate, whole-second duration, host, CSV prefix, processes."""
    spec = RunSpec("steady", resolve_scenario("steady"), Target("reference", "safe"), users=5,
                   spawn_rate=2.5, duration_s=7.2, processes=3)
    cmd = locust_command(spec, "http://127.0.0.1:1", tmp_path)
    joined = " ".join(cmd)
    assert "--headless" in cmd and "-u 5" in joined and "-r 2.5" in joined and "-t 8s" in joined
    assert f"--csv {tmp_path / 'locust'}" in joined and "--processes 3" in joined


def test_scenario_knobs_pass_through_but_runner_variables_never_leak() -> None:
    """PAYRACE_HANG_MS reaches the scenario; PAYRACE_DATABASE_URL from a shell never does."""
    env = {"PAYRACE_HANG_MS": "100", "PAYRACE_DATABASE_URL": "postgresql://prod",
           "PAYRACE_SERVICE_VARIANT": "x", "HOME": "/root"}
    assert scenario_knobs(env) == {"PAYRACE_HANG_MS": "100"}
    assert "PAYRACE_DATABASE_URL" in RUNNER_OWNED


def test_reproduce_names_the_settings() -> None:
    """The reproduce command carries the scenario settings a run used."""
    spec = RunSpec("retry_storm", resolve_scenario("retry_storm"), Target("reference", "pr145"),
                   users=4, spawn_rate=4, duration_s=10, seed=7,
                   scenario_env={"PAYRACE_HANG_MS": "900"})
    command = spec.reproduce()
    assert command.startswith("PAYRACE_HANG_MS=900 payrace run retry_storm")
    assert "--target reference:pr145" in command and "--seed 7" in command
