"""Provisioning of real parts: PostgreSQL (`postgres`) and the reference service (`service`)."""
