"""Run the reference service under uvicorn's worker supervisor: `python -m reference_impl.launcher`.

Why not the `uvicorn` command: with `--workers 1` uvicorn runs without its
supervisor, so a `crash` failpoint would end the whole service instead of one
worker that gets restarted, and it cannot report the port it bound when asked
for port 0. This launcher always supervises (a dead worker is replaced, as in
production) and writes the bound port to `<state-dir>/port` so the harness
never races for a free port. With `--exit-with-stdin` it shuts down when its
stdin closes, so a harness killed with SIGKILL leaves no service behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, cast

import stripe
import uvicorn
from uvicorn.supervisors import Multiprocess

from reference_impl.config import ENV_PREFIX, ENV_READY_DIR, ENV_VARIANT, ServiceConfig
from reference_impl.provider import Provider
from reference_impl.variants import VARIANTS, webhook_events
from reference_impl.webhooks import WEBHOOK_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_impl.launcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args(argv)

    os.environ[ENV_READY_DIR] = str(args.state_dir)  # inherited by every worker
    config = uvicorn.Config(
        "reference_impl.asgi:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    sock = config.bind_socket()
    port = sock.getsockname()[1]
    endpoint = _register_webhook(args.host, port)
    (args.state_dir / "port.tmp").write_text(str(port))
    (args.state_dir / "port.tmp").replace(args.state_dir / "port")
    supervisor_cls = cast(Any, Multiprocess)
    try:
        supervisor = supervisor_cls(config, sockets=[sock])
    except TypeError:  # older uvicorn versions take the worker target explicitly
        supervisor = supervisor_cls(config, target=uvicorn.Server(config).run, sockets=[sock])
    if args.exit_with_stdin:
        threading.Thread(target=_stop_when_stdin_closes, daemon=True).start()
    try:
        supervisor.run()
    finally:
        if endpoint is not None:
            endpoint[0].delete_webhook(endpoint[1])
    return 0


def _register_webhook(host: str, port: int) -> tuple[Provider, str] | None:
    """Register the variant's webhook endpoint once, before any worker starts, as an operator
    would in Stripe's dashboard; every worker verifies deliveries with its secret.

    One endpoint for the whole service: one per worker would deliver every event N times.
    It is deleted when the service stops, so a shared stand-in stops delivering to it.
    """
    variant = os.environ.get(ENV_VARIANT, "")
    events = webhook_events(variant) if variant in VARIANTS else ()
    if not events:
        return None
    config = ServiceConfig.from_env()
    provider = Provider(config, max_network_retries=2)
    where = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        url = f"http://{where}:{port}{WEBHOOK_PATH}"
        endpoint_id, secret = provider.register_webhook(url, events)
    except stripe.StripeError as exc:
        raise SystemExit(
            f"reference service: could not register its webhook endpoint at "
            f"{config.stripe_url} ({type(exc).__name__}: {exc})"
        ) from None
    os.environ[ENV_PREFIX + "WEBHOOK_SECRET"] = secret  # inherited by every worker
    return provider, endpoint_id


def _stop_when_stdin_closes() -> None:
    """Block until the parent closes our stdin (or dies), then stop as on SIGTERM."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
