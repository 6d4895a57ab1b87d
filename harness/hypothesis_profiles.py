"""Hypothesis settings profiles for the payment model: dev, ci (derandomized) and nightly."""

from __future__ import annotations

from typing import Any

from hypothesis import Phase, settings

PROFILE_NAMES = ("dev", "ci", "nightly")
# What every profile shares. No deadline: a step waits on real PostgreSQL and HTTP. No
# example database: payment ids differ on every run, and the printed program is the replay.
# One bug at a time, shrunk; no explain phase, whose extra runs cost seconds each.
# No health check needs to be off: every one stayed on through the explores of the
# integration and quality tests and none fired (too_slow times only drawing, not the steps).
_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": (),
    "report_multiple_bugs": False,
    "phases": (Phase.explicit, Phase.generate, Phase.shrink),
}
_PROFILES: dict[str, dict[str, Any]] = {
    "dev": {"max_examples": 50, "stateful_step_count": 10},
    "ci": {
        "max_examples": 100,
        "stateful_step_count": 10,
        "derandomize": True,
        "print_blob": True,
    },
    "nightly": {"max_examples": 2000, "stateful_step_count": 20},
}


def profile(name: str = "dev", **overrides: Any) -> settings:
    """The settings of one profile, with any setting overridden by keyword."""
    if name not in _PROFILES:
        raise ValueError(f"Unknown profile {name!r}; choose one of: {', '.join(PROFILE_NAMES)}")
    return settings(**{**_COMMON, **_PROFILES[name], **overrides})


def register_profiles(prefix: str = "payrace-") -> None:
    """Register the profiles with Hypothesis as payrace-dev, payrace-ci and payrace-nightly."""
    for name in PROFILE_NAMES:
        settings.register_profile(prefix + name, profile(name))


# Registered on import: Hypothesis imports this module through payrace's entry point (group
# `hypothesis` in pyproject.toml) whenever Hypothesis itself is imported, so installing payrace
# makes the profiles exist. A module, not a function, is the entry point: when this module is
# what imports Hypothesis first, Hypothesis finds it half-loaded, and this line still runs.
register_profiles()
