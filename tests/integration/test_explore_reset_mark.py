"""Between two examples explore marks its run directory while it resets the parts, so a kill
there never leaves one example's history judged beside the next one's ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.between_examples import resetting
from harness.model import PartsRequest, open_environment
from harness.provision.postgres import Provisioned

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("own_standin", [True, False])
def test_the_parts_are_reset_under_the_mark_and_the_mark_goes_once_both_files_are_new(
        own_standin: bool, postgres_server: Provisioned, standin_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    request = PartsRequest(target="reference:safe", workers=2,
                           stripe_url=None if own_standin else standin_url,
                           database_url=postgres_server.url, evidence_dir=tmp_path)
    with open_environment(request) as (env, _parts):
        seen: list[tuple[str, bool]] = []

        def watched(name: str, reset: Callable[[], Any]) -> Callable[[], Any]:
            def call() -> Any:
                seen.append((name, resetting(tmp_path)))
                return reset()
            return call

        monkeypatch.setattr(env.standin, "reset", watched("stand-in", env.standin.reset))
        monkeypatch.setattr(env.target, "reset", watched("target", env.target.reset))
        for _ in range(2):
            example = env.begin_example()
            assert not resetting(tmp_path)
            assert (tmp_path / "history.jsonl").read_bytes() == b""
            # The target's own reset may call the provider; no charge survives the reset.
            assert b'"kind":"charge"' not in (tmp_path / "ledger.jsonl").read_bytes()
            created = env.clients[0].create_payment(1000, process="w0.0")
            assert created.value is not None
            env.clients[0].charge(str(created.value["id"]), None, process="w0.0")
            env.sync_ledger(example)  # a copy holds the charge from here; a journal already did
            assert b'"kind":"charge"' in (tmp_path / "ledger.jsonl").read_bytes()
            example.recorder.close()
        assert seen == [("stand-in", True), ("target", True)] * 2
    assert not resetting(tmp_path)
