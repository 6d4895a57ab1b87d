"""`payrace explore` refuses bad input with one line and exit 2, before starting any part."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "reference:nope"], "reference:naive, reference:mutex, reference:pr145"),
        (
            ["--target", "ftp://x"],
            "expected reference:<variant>, python:package.module:factory or http://host:port",
        ),
        (["--target", "reference:safe", "--max-examples", "0"], "--max-examples"),
        (["--target", "reference:safe", "--max-examples", "lots"], "whole number"),
        (["--target", "reference:safe", "--workers", "9"], "between 1 and 8"),
        (["--target", "reference:safe", "--faults", "weather"], "provider,"),
        (["--target", "reference:safe", "--max-time", "-3"], "--max-time"),
        (["--target", "http://127.0.0.1:9"], "needs --stripe-url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    """Each bad flag names itself and what is accepted; no traceback, no run directory."""
    result = CliRunner().invoke(main, ["explore", *args, "--reports-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("payrace: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_reports_dir_is_refused_before_provisioning(tmp_path: Path) -> None:
    """A reports directory that cannot be created is a usage error, before anything starts."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(
        main, ["explore", "--target", "reference:safe", "--reports-dir", str(blocker / "r")]
    )
    assert result.exit_code == 2
    assert "Cannot create the run directory" in result.stderr
    assert "exploring" not in result.output  # refused before any part was provisioned


def test_explore_help_names_every_option() -> None:
    """`payrace explore --help` documents the options of the issue."""
    result = CliRunner().invoke(main, ["explore", "--help"])
    assert result.exit_code == 0
    for option in ("--target", "--stripe-url", "--database-url", "--seed", "--max-examples",
                   "--max-time", "--workers"):
        assert option in result.output
