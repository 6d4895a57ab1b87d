"""The reference payment service: one HTTP app, five variants (four deliberately flawed)."""

from reference_impl.config import ServiceConfig

__all__ = ["ServiceConfig"]
