"""`--target`: one parser for every command — a reference variant, or an HTTP service's base URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from harness.errors import UsageError

TargetKind = Literal["reference", "http"]
ACCEPTED_FORMS = "reference:<variant> or http://host:port"


def variant_names() -> list[str]:
    from reference_impl.variants import VARIANTS  # cheap: variants load lazily

    return list(VARIANTS)


@dataclass(frozen=True)
class TargetSpec:
    """What `--target` named: a reference variant, or the base URL of an HTTP service."""

    kind: TargetKind
    value: str  # the variant name, or the URL without a trailing slash

    @property
    def label(self) -> str:
        return f"reference:{self.value}" if self.kind == "reference" else self.value

    @property
    def variant(self) -> str | None:
        return self.value if self.kind == "reference" else None

    @property
    def url(self) -> str | None:
        return self.value if self.kind == "http" else None


def parse_target(raw: str) -> TargetSpec:
    """Parse `--target`; anything else is a UsageError listing what is accepted."""
    text = raw.strip()
    if text.startswith("reference:"):
        name = text.removeprefix("reference:")
        names = variant_names()
        if name not in names:
            raise UsageError(
                f"--target: unknown variant {name!r} in {raw!r}; choose one of: "
                + ", ".join(f"reference:{n}" for n in names)
                + ", or http://host:port"
            )
        return TargetSpec("reference", name)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        try:
            parts.port  # noqa: B018 - validates the port number
        except ValueError:
            raise UsageError(f"--target: bad port in {raw!r}; expected {ACCEPTED_FORMS}") from None
        if parts.path not in ("", "/") or "?" in text or "#" in text:
            raise UsageError(
                f"--target: {raw!r} must be the service's base URL without a path; "
                f"expected {ACCEPTED_FORMS}"
            )
        return TargetSpec("http", text.rstrip("/"))
    raise UsageError(
        f"--target: cannot use {raw!r}; expected {ACCEPTED_FORMS} "
        f"(variants: {', '.join(variant_names())})"
    )
