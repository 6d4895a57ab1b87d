"""Build the aiohttp application and serve it: in the foreground, or in a thread (benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.errors import ProvisionError
from harness.stripe_standin.admin import admin_routes
from harness.stripe_standin.api import ApiHandler, json_response
from harness.stripe_standin.state import StandinState
from harness.stripe_standin.upstream import Upstream
from harness.stripe_standin.wire import unrecognized_url

log = logging.getLogger("payrace.standin")
# A held (hang_after, gate) request must not keep a stopping stand-in alive for long.
SHUTDOWN_TIMEOUT_S = 1.0


def build_app(state: StandinState, upstream: Upstream | None = None) -> web.Application:
    """The application: `/v1/…` through the API pipeline, `/_standin/…` admin, 404 otherwise."""
    api = ApiHandler(state, upstream)

    async def not_found(request: web.Request) -> web.Response:
        err = unrecognized_url(request.method, request.path)
        return json_response(404, err.body(), {})

    app = web.Application(client_max_size=1024 * 1024)
    app.add_routes(admin_routes(state))
    app.router.add_route("*", "/v1/{tail:.*}", api.handle)
    app.router.add_route("*", "/{tail:.*}", not_found)

    async def close_webhooks(_app: web.Application) -> None:
        await state.webhooks.close()

    app.on_cleanup.append(close_webhooks)
    if upstream is not None:
        async def start_upstream(_app: web.Application) -> None:
            await upstream.start()

        async def close_upstream(_app: web.Application) -> None:
            await upstream.close()

        app.on_startup.append(start_upstream)
        app.on_cleanup.append(close_upstream)
    return app


async def start(
    host: str, port: int, state: StandinState
) -> tuple[web.AppRunner, str]:
    """Listen on host:port (0 = a free port); return the runner and the base URL."""
    upstream = Upstream(state.upstream_url) if state.upstream_url else None
    runner = web.AppRunner(
        build_app(state, upstream), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    # SO_REUSEADDR still refuses a port another server listens on, but lets a restarted
    # stand-in take its port back while its clients' old connections linger in FIN-WAIT.
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise ProvisionError(
                f"Cannot listen on {host}:{port}: the port is already in use. Choose another "
                "with --port (--port 0 picks a free one)."
            ) from None
        raise ProvisionError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    return runner, f"http://{shown}:{bound[1]}"


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop when stdin closes: the parent died or let go, so no orphan stand-in lingers."""

    def reader() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=reader, name="standin-stdin-watch", daemon=True).start()


def serve(
    host: str,
    port: int,
    state: StandinState,
    announce: Callable[[str], None],
    *,
    exit_with_stdin: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM (or stdin EOF); then write the ledger to `state.ledger_path`."""

    async def main() -> None:
        runner, url = await start(host, port, state)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if exit_with_stdin:
            _watch_stdin(loop, stop)
        announce(url)
        try:
            await stop.wait()
        finally:
            state.faults.clear()  # free gated requests so shutdown is quick
            await runner.cleanup()
            if state.ledger_path is not None:
                try:
                    state.ledger.dump(state.ledger_path)
                except OSError as exc:
                    raise ProvisionError(
                        f"Could not write the ledger to {str(state.ledger_path)!r}: {exc.strerror}"
                    ) from None

    asyncio.run(main())


@contextlib.contextmanager
def serving_in_thread(
    state: StandinState | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[tuple[str, StandinState]]:
    """Run a stand-in on an event loop in a background thread (benchmarks); yield (url, state)."""
    state = state or StandinState()
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started["runner"], started["url"] = loop.run_until_complete(start(host, port, state))
        except BaseException as exc:  # handed to the caller's thread below
            started["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(started["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="standin", daemon=True)
    thread.start()
    ready.wait()
    if "error" in started:
        raise started["error"]
    try:
        yield started["url"], state
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def default_state(
    seed: int, ledger: str | None, upstream: str | None, webhooks: tuple[str, ...] = (),
    search_lag_ms: int = 0, journal: str | None = None,
) -> StandinState:
    """A fresh state from the command-line options (`--webhook` endpoints registered)."""
    state = StandinState(
        seed=seed, ledger_path=Path(ledger) if ledger else None, upstream_url=upstream,
        search_lag_ms=search_lag_ms, journal_path=Path(journal) if journal else None,
    )
    state.webhooks.configure(list(webhooks), state.clock.now())
    return state
