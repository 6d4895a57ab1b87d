"""Upstream validation: ask stripe-mock (or any Stripe-shaped server) if a request is valid."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from harness.stripe_standin.wire import API_ERROR, StripeError

if TYPE_CHECKING:
    from harness.stripe_standin.api import Answer

_FORWARDED = ("Authorization", "Content-Type", "Stripe-Version")


class Upstream:
    """Forwards each `/v1/` request; only the upstream's 4xx answers are passed back, unchanged."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self, request: web.Request, raw: bytes) -> Answer | None:
        """The upstream's 4xx as an answer to return (nothing stored), or None to go on."""
        from harness.stripe_standin.api import Answer

        assert self._session is not None, "Upstream.start() was not awaited"
        headers = {h: request.headers[h] for h in _FORWARDED if h in request.headers}
        try:
            async with self._session.request(
                request.method, self.url + request.path_qs, data=raw or None, headers=headers
            ) as resp:
                status, raw_body = resp.status, await resp.read()
                upstream_headers = {
                    k: v for k, v in resp.headers.items() if k.lower().startswith("stripe-")
                }
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StripeError(
                500,
                f"The upstream validator at {self.url} did not answer ({type(exc).__name__}); "
                "nothing was executed.",
                type=API_ERROR,
            ) from exc
        if not 400 <= status < 500:
            return None
        try:
            json.loads(raw_body)
        except ValueError:
            # Not Stripe-shaped: wrap it in the envelope so the SDK can still read it.
            message = raw_body.decode(errors="replace").strip()
            return Answer.error(StripeError(status, f"Upstream {self.url}: {message}"))
        return Answer(status, raw_body, upstream_headers)


def start_stripe_mock() -> tuple[str, Any]:
    """Start `stripe/stripe-mock` with testcontainers; return its URL and the container to stop.

    Raises ProvisionError (exit 3) when no Docker engine answers, saying how to pass a URL instead.
    """
    from harness.errors import ProvisionError

    try:
        import docker  # type: ignore[import-untyped]  # docker ships no type stubs

        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:  # docker raises many types when no engine answers; all mean the same
        raise ProvisionError(
            f"--upstream docker: no Docker engine answered ({type(exc).__name__}). Start "
            "stripe-mock yourself and pass its URL instead, e.g. --upstream http://127.0.0.1:12111"
        ) from None
    try:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        container = DockerContainer("stripe/stripe-mock:latest").with_exposed_ports(12111)
        container.start()
        wait_for_logs(container, "Listening for HTTP", timeout=60)
        host = container.get_container_host_ip()
        port = container.get_exposed_port(12111)
    except Exception as exc:  # image pull or start failures: one line, exit 3
        raise ProvisionError(
            f"--upstream docker: could not start stripe/stripe-mock ({exc}). Pass the URL of a "
            "running stripe-mock instead: --upstream http://host:port"
        ) from None
    return f"http://{host}:{port}", container
