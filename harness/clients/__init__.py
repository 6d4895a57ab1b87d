"""Clients: one protocol, an in-process and an HTTP implementation, both recording the history."""

from harness.clients.base import Client, Response, perform
from harness.clients.inprocess import InProcessClient, is_simulated_crash
from harness.clients.service import Service

__all__ = [
    "Client",
    "HttpClient",
    "InProcessClient",
    "Response",
    "Service",
    "is_simulated_crash",
    "perform",
]


def __getattr__(name: str) -> object:
    # httpx is imported only by whoever uses the HTTP client (in-process runs never need it).
    if name == "HttpClient":
        from harness.clients.http import HttpClient

        return HttpClient
    raise AttributeError(f"module 'harness.clients' has no attribute {name!r}")
