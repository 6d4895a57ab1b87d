"""A target that breaks the contract is reported as such, with evidence — never as a crash."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.errors import ProvisionError
from harness.model import PartsRequest, explore, open_environment
from tests.integration.broken_target import serving

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("mode", "evidence"),
    [
        ("no_charge_id", "charge_id"),
        ("backwards", "pending"),
    ],
)
def test_a_contract_breaking_target_is_named_by_target_contract(
    mode: str, evidence: str, standin_url: str
) -> None:
    """The headline violation is target-contract, its sentence names what broke."""
    with serving(mode, standin_url) as url, open_environment(
        # A short settle: `backwards` shows a charged payment pending on every other read,
        # which settling would otherwise wait its whole budget for, example after example.
        PartsRequest(target=url, workers=2, faults=(), stripe_url=standin_url, settle_s=1.5)
    ) as (env, _parts):
        result = explore(env, max_examples=10, seed=3, steps=4, shrink_seconds=2)
    assert result.verdict == "violation", result.reason
    assert result.violation is not None
    assert result.violation.result.checker == "target-contract"
    first = result.violation.result.violations[0]
    assert evidence in first.because
    assert first.operations or first.ledger or first.db  # evidence, not just a sentence
    assert result.program and result.program[0] == "state = PaymentModel()"


def test_charges_without_metadata_are_a_wiring_error_found_by_preflight(standin_url: str) -> None:
    """No `metadata[payment_id]` on the charge: exit 3 naming it, before any exploring."""
    request = PartsRequest(target="", workers=2, stripe_url=standin_url)
    with serving("no_metadata", standin_url) as url, pytest.raises(ProvisionError) as caught, \
            open_environment(replace(request, target=url)):
        pass
    assert caught.value.exit_code == 3
    assert "metadata[payment_id]" in str(caught.value)
    assert "Preflight" in str(caught.value)
