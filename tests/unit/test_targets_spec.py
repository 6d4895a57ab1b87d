"""`--target` (harness.targets.spec): a reference variant or an HTTP base URL; nothing else."""

from __future__ import annotations

import pytest

from harness.errors import EXIT_USAGE, UsageError
from harness.targets.spec import TargetSpec, parse_target, variant_names

ACCEPTED = "reference:<variant>, python:package.module:factory or http://host:port"


@pytest.mark.parametrize("variant", ["naive", "mutex", "pr145", "safe", "dunning"])
def test_reference_variants_parse(variant: str) -> None:
    """`reference:<variant>` names a known variant: variant set, no URL, label echoes the flag."""
    spec = parse_target(f"reference:{variant}")
    assert spec == TargetSpec("reference", variant)
    assert spec.variant == variant
    assert spec.url is None
    assert spec.label == f"reference:{variant}"


def test_known_variants_are_the_reference_implementations() -> None:
    """The variants `--target` accepts are exactly reference_impl's four."""
    assert variant_names() == ["naive", "mutex", "pr145", "safe", "dunning"]


@pytest.mark.parametrize(("raw", "url"), [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("https://payments.example.test", "https://payments.example.test"),
    ("https://payments.example.test/", "https://payments.example.test"),
    ("  http://localhost:9  ", "http://localhost:9"),
    ("http://[::1]:8080/", "http://[::1]:8080"),
])
def test_http_base_urls_parse_without_trailing_slash(raw: str, url: str) -> None:
    """`http(s)://host[:port]` is an HTTP target; a trailing slash and blanks are dropped."""
    spec = parse_target(raw)
    assert spec == TargetSpec("http", url)
    assert spec.url == url
    assert spec.variant is None
    assert spec.label == url


def _refused(raw: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_target(raw)
    assert caught.value.exit_code == EXIT_USAGE == 2
    message = str(caught.value)
    assert message.startswith("--target"), message
    return message


@pytest.mark.parametrize("raw", ["reference:nope", "reference:", "reference:Safe"])
def test_unknown_variant_lists_every_accepted_form(raw: str) -> None:
    """An unknown variant is a UsageError listing every `reference:<variant>` and the URL form."""
    message = _refused(raw)
    assert "unknown variant" in message
    assert (
        "choose one of: reference:naive, reference:mutex, reference:pr145, reference:safe, "
        "reference:dunning, or http://host:port"
    ) in message


@pytest.mark.parametrize("raw", [
    "http://127.0.0.1:8000/api",
    "http://127.0.0.1:8000/payments/",
    "http://127.0.0.1:8000?x=1",
    "http://127.0.0.1:8000/?x=1",
    "http://127.0.0.1:8000#top",
    "https://example.test//",
])
def test_url_with_a_path_query_or_fragment_is_refused(raw: str) -> None:
    """The target is a base URL: a path, a query or a fragment is refused, naming the input."""
    message = _refused(raw)
    assert f"{raw!r} must be the service's base URL without a path" in message
    assert f"expected {ACCEPTED}" in message


@pytest.mark.parametrize("raw", [
    "http://127.0.0.1:99999", "http://127.0.0.1:port", "https://example.test:-1",
])
def test_bad_port_is_refused(raw: str) -> None:
    """A port that is not a number in 0..65535 is refused as a bad port."""
    message = _refused(raw)
    assert message == (
        f"--target: bad port in {raw!r}; expected {ACCEPTED}"
    )


@pytest.mark.parametrize("raw", [
    "ftp://127.0.0.1:8000", "127.0.0.1:8000", "localhost:8000", "naive", "http://",
    "http://:8000", "ws://127.0.0.1:8000", "",
])
def test_other_schemes_and_bare_names_are_refused(raw: str) -> None:
    """Anything but `reference:` or an http(s) URL with a host is refused, listing the variants."""
    message = _refused(raw)
    assert message == (
        f"--target: cannot use {raw!r}; expected {ACCEPTED} "
        "(variants: naive, mutex, pr145, safe, dunning)"
    )


@pytest.mark.parametrize("raw", [
    "http://127.0.0.1:8000?", "http://127.0.0.1:8000/?", "http://127.0.0.1:8000#",
])
def test_an_empty_query_or_fragment_marker_never_reaches_the_url(raw: str) -> None:
    """A dangling `?` or `#` is refused like a query, or dropped: never kept in `.url`."""
    try:
        spec = parse_target(raw)
    except UsageError as exc:
        assert str(exc).startswith("--target")
    else:
        assert spec.url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(("raw", "value"), [
    ("python:tests.services.payments:correct", "tests.services.payments:correct"),
    ("python:payments:make", "payments:make"),
    ("  python:my_pkg._impl.svc:Factory2  ", "my_pkg._impl.svc:Factory2"),
])
def test_python_factories_parse(raw: str, value: str) -> None:
    """`python:module:factory` names a factory: no variant, no URL, the label echoes it."""
    spec = parse_target(raw)
    assert spec == TargetSpec("python", value)
    assert spec.factory == value and spec.variant is None and spec.url is None
    assert spec.label == f"python:{value}"
    assert spec.provisioned_database


@pytest.mark.parametrize("raw", [
    "python:", "python:payments", "python:payments:", "python::make", "python:pay-ments:make",
    "python:payments:make:extra", "python:payments.:make", "python:1payments:make",
    "python:payments:make()", "python:payments.make",
])
def test_malformed_python_targets_are_refused(raw: str) -> None:
    """Anything but a dotted module path, a colon and one name is a UsageError with the form."""
    message = _refused(raw)
    assert message == (
        f"--target: cannot use {raw!r}; a Python target is python:package.module:factory "
        "(a dotted module path, a colon, the name of a factory called as "
        "factory(database_url, stripe_url))"
    )
