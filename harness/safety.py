"""Guards that keep payrace from ever moving real money: no live keys, no real provider URLs."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from harness.errors import UsageError

LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_", "pk_live_")


def is_live_key(api_key: str) -> bool:
    """True for a Stripe key that would act in live mode."""
    return api_key.startswith(LIVE_KEY_PREFIXES)


def refuse_live_key(api_key: str) -> None:
    """Raise UsageError for a live-mode Stripe key; payrace only ever uses test mode."""
    if is_live_key(api_key):
        raise UsageError(
            f"Refusing the live Stripe key {api_key[:8]}…: payrace never talks to live mode. "
            "Use a test key (sk_test_…)."
        )


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is on this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_provider_url(url: str, api_key: str) -> None:
    """Accept a provider URL on loopback, or elsewhere only with an explicit test-mode key."""
    refuse_live_key(api_key)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"Expected an http(s) URL for the provider, got {url!r}")
    if not is_loopback_url(url) and not api_key.startswith("sk_test_"):
        raise UsageError(
            f"Refusing provider URL {url!r}: it is not on loopback and the key is not "
            "a test-mode key (sk_test_…). payrace never moves real money."
        )
