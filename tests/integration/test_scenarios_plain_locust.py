"""The scenarios are plain locustfiles: `locust -f scenarios/<name>.py` records one history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.provision.service import running_service
from harness.runner.spec import available_scenarios, scenarios_dir
from harness.stripe_standin import StandinAdmin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def naive_service(postgres_url: str, standin_url: str) -> Iterator[str]:
    with running_service("naive", 2, postgres_url, standin_url) as url:
        yield url


def locust(scenario: str, host: str, env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "locust", "-f", str(scenarios_dir() / f"{scenario}.py"),
               "--headless", "--host", host, "--only-summary", "--loglevel", "WARNING",
               "--exit-code-on-error", "0", *args]
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_scenario_names_the_race_it_hunts() -> None:
    """Each locustfile opens with a docstring that says which race it hunts."""
    for name in available_scenarios():
        text = (scenarios_dir() / f"{name}.py").read_text()
        assert text.startswith('"""'), name
        assert "The race it hunts" in text.split('"""')[1], name


def test_double_click_under_plain_locust_with_two_processes(
        naive_service: str, standin_url: str, standin_admin: StandinAdmin,
        tmp_path: Path) -> None:
    """`locust -f double_click.py --processes 2`: both processes' ops merge into one valid
    history, and the gate makes naive charge a payment more than once."""
    history = tmp_path / "history.jsonl"
    locust("double_click", naive_service,
           {"PAYRACE_HISTORY": str(history), "PAYRACE_STANDIN_URL": standin_url},
           "-u", "4", "-r", "4", "-t", "3s", "--processes", "2")
    ops = [json.loads(line) for line in history.read_text().splitlines()]
    assert [op["index"] for op in ops] == list(range(len(ops)))
    assert not list(tmp_path.glob("history.jsonl.part-*")), "the parts were merged and removed"
    assert len({op["process"].split("-")[0] for op in ops}) == 2, "ops from both processes"
    open_ops: Counter[str] = Counter()
    for op in ops:
        open_ops[op["process"]] += 1 if op["type"] == "invoke" else -1
        assert open_ops[op["process"]] in (0, 1), f"{op['process']} ran two ops at once"
    assert set(open_ops.values()) == {0}, "every invoke was completed (ok, fail or info)"
    charges = Counter(c["payment_id"] for c in standin_admin.charges())
    assert max(charges.values()) >= 2
    faults = [json.loads(line) for line in (tmp_path / "faults.jsonl").read_text().splitlines()]
    assert faults[0]["rules"][0]["action"] == "gate"
    assert standin_admin.faults() == [], "the scenario disarmed its faults when it stopped"


def test_steady_without_recording_records_nothing(naive_service: str, tmp_path: Path) -> None:
    """Without PAYRACE_HISTORY or a stand-in the scenario still runs, recording nothing."""
    env = {k: "" for k in ("PAYRACE_HISTORY", "PAYRACE_STANDIN_URL", "PAYRACE_FAULTS")}
    locust("steady", naive_service, env, "-u", "2", "-r", "2", "-t", "2s",
           "--csv", str(tmp_path / "locust"))
    assert (tmp_path / "locust_stats.csv").is_file()
    assert not list(tmp_path.glob("*.jsonl*"))


def test_a_bad_payrace_adapter_under_plain_locust_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`PAYRACE_ADAPTER` naming a missing file stops `locust -f` at once: one line, exit 2."""
    missing = tmp_path / "nowhere.py"
    command = [sys.executable, "-m", "locust", "-f", str(scenarios_dir() / "steady.py"),
               "--headless", "--host", "http://127.0.0.1:9", "-t", "1s"]
    result = subprocess.run(command, env={**os.environ, "PAYRACE_ADAPTER": f"{missing}:Api"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "PAYRACE_ADAPTER" in line]
    assert lines and f"{missing} does not exist" in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_scenario_knobs_are_locust_arguments_and_environment_variables(
        naive_service: str, standin_url: str, tmp_path: Path) -> None:
    """A knob is Locust's `--payrace-<knob>` argument; `PAYRACE_<KNOB>` (how `payrace run`
    passes it) still works, and the argument wins over the environment."""
    cases = [("flag", {}, ("--payrace-clicks", "3"), 3), ("env", {"PAYRACE_CLICKS": "5"}, (), 5),
             ("both", {"PAYRACE_CLICKS": "5"}, ("--payrace-clicks", "2"), 2)]
    for name, env, args, clicks in cases:
        history = tmp_path / name / "history.jsonl"
        history.parent.mkdir()
        locust("double_click", naive_service,
               {"PAYRACE_HISTORY": str(history), "PAYRACE_STANDIN_URL": standin_url, **env},
               # 3 s: on a loaded machine 1 s ended some runs before their start hook armed.
               "-u", "1", "-r", "1", "-t", "3s", *args)
        faults = [json.loads(line)
                  for line in (history.parent / "faults.jsonl").read_text().splitlines()]
        assert faults[0]["rules"][0] == {"action": "gate", "n": clicks, "timeout_ms": 400}, name


def test_a_knob_that_is_not_a_number_stops_locust_with_one_line(naive_service: str) -> None:
    command = [sys.executable, "-m", "locust", "-f", str(scenarios_dir() / "double_click.py"),
               "--headless", "--host", naive_service, "-t", "1s"]
    result = subprocess.run(command, env={**os.environ, "PAYRACE_CLICKS": "many"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--payrace-clicks" in result.stderr and "'many'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
