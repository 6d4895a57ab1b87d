"""`--target`: one parser for every command — a provider's variant, a Python factory, or a URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.targets.registry import REFERENCE, get_provider, installed_variants

TargetKind = Literal["reference", "http", "python"]
ACCEPTED_FORMS = "reference:<variant>, python:package.module:factory or http://host:port"
PYTHON_FORM = "python:package.module:factory"
# A dotted module path, then one attribute: `python:pkg.mod:make_service`.
_PYTHON = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")


def variant_names() -> list[str]:
    """The reference provider's variants (none when it is not installed)."""
    return installed_variants(REFERENCE)


@dataclass(frozen=True)
class TargetSpec:
    """What `--target` named: a reference variant, a Python factory, or an HTTP base URL."""

    kind: TargetKind
    value: str  # the variant name, `module:factory`, or the URL without a trailing slash

    @property
    def label(self) -> str:
        if self.kind == "http":
            return self.value
        return f"{self.kind}:{self.value}"

    @property
    def variant(self) -> str | None:
        return self.value if self.kind == "reference" else None

    @property
    def url(self) -> str | None:
        return self.value if self.kind == "http" else None

    @property
    def factory(self) -> str | None:
        """`module:factory` of a python: target."""
        return self.value if self.kind == "python" else None

    @property
    def provisioned_database(self) -> bool:
        """payrace makes the target's database (a fresh one on its PostgreSQL server)."""
        return self.kind in ("reference", "python")


def _parse_python(raw: str, text: str) -> TargetSpec:
    value = text.removeprefix("python:").strip()
    if not _PYTHON.match(value):
        raise UsageError(
            f"--target: cannot use {raw!r}; a Python target is {PYTHON_FORM} (a dotted "
            "module path, a colon, the name of a factory called as factory(database_url, "
            "stripe_url))"
        )
    return TargetSpec("python", value)


def parse_target(raw: str) -> TargetSpec:
    """Parse `--target`; anything else is a UsageError listing what is accepted."""
    text = raw.strip()
    if text.startswith("python:"):
        return _parse_python(raw, text)
    if text.startswith("reference:"):
        name = text.removeprefix("reference:")
        provider = get_provider(REFERENCE)  # not installed: one line saying so (exit 2)
        names = provider.variants()
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
        f"(variants: {', '.join(variant_names()) or 'none installed'})"
    )
