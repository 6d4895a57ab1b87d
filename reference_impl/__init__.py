"""The reference payment service: one HTTP app, four variants (three deliberately flawed)."""

from reference_impl.config import ServiceConfig

__all__ = ["ServiceConfig"]
