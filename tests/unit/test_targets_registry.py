"""Target providers come from the `payrace.targets` entry points; reference_impl is one of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.errors import EXIT_USAGE, UsageError
from harness.targets import registry, spec
from reference_impl.payrace_target import PROVIDER


@pytest.fixture()
def no_providers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if payrace were installed without reference_impl's entry point."""
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    registry.get_provider.cache_clear()
    yield
    registry.get_provider.cache_clear()


def test_the_reference_provider_is_found_through_its_entry_point() -> None:
    assert registry.provider_names() == ["reference"]
    assert registry.get_provider("reference") is PROVIDER
    assert PROVIDER.variants() == ["naive", "mutex", "pr145", "safe", "dunning"]
    assert PROVIDER.schema().fingerprint == PROVIDER.schema().fingerprint


def test_without_the_entry_point_a_reference_target_is_one_line(no_providers: None) -> None:
    """Not installed: exit 2 saying which provider is missing and what else is accepted."""
    with pytest.raises(UsageError) as caught:
        spec.parse_target("reference:safe")
    assert caught.value.exit_code == EXIT_USAGE
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("no payrace target provider named 'reference' is installed")
    assert "python:module:factory or http://host:port" in message


def test_without_the_entry_point_other_targets_still_parse(no_providers: None) -> None:
    assert spec.parse_target("http://127.0.0.1:8000").kind == "http"
    assert spec.parse_target("python:pkg.mod:make").kind == "python"
    assert spec.variant_names() == []
