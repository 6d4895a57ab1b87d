"""`payrace stand-in`: run the Stripe stand-in alone, for a service you point at it yourself."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from harness.errors import ProvisionError, UsageError


def _check_upstream(url: str) -> None:
    """Refuse a malformed upstream URL (exit 2) or one nothing answers at (exit 3)."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"--upstream expects an http(s) URL of a stripe-mock, or 'docker', got {url!r}"
        )
    try:
        httpx.get(url.rstrip("/") + "/v1/charges", timeout=5,
                  headers={"Authorization": "Bearer sk_test_payrace"})
    except httpx.HTTPError as exc:
        raise ProvisionError(f"--upstream {url}: nothing answered ({type(exc).__name__})") from None


def _check_ledger_path(ledger: str, flag: str = "--ledger") -> None:
    """Refuse, before serving, a ledger FILE that could never be written (exit 2)."""
    from pathlib import Path

    target = Path(ledger)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if target.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"{flag} {ledger}: not a writable file path")


def run_standin(
    host: str, port: int, seed: int, ledger: str | None, upstream: str | None,
    exit_with_stdin: bool, webhooks: tuple[str, ...] = (), search_lag_ms: int = 0,
    journal: str | None = None,
) -> None:
    """Start the upstream if asked, then serve in the foreground until interrupted."""
    from harness.stripe_standin import TEST_API_KEY
    from harness.stripe_standin.server import default_state, serve

    if ledger is not None:
        _check_ledger_path(ledger)
    if journal is not None:
        _check_ledger_path(journal, "--ledger-journal")
    container: Any = None
    if upstream == "docker":
        from harness.stripe_standin.upstream import start_stripe_mock

        upstream, container = start_stripe_mock()
    elif upstream is not None:
        _check_upstream(upstream)
    for hook in webhooks:
        if not hook.startswith(("http://", "https://")):
            raise UsageError(f"--webhook expects an http(s) URL, got {hook!r}")
    state = default_state(seed, ledger, upstream, webhooks, search_lag_ms, journal)

    def announce(url: str) -> None:
        click.echo(
            f"payrace stand-in listening on {url} (API key {TEST_API_KEY} or any sk_test_…; "
            f"admin {url}/_standin/health)"
            + (f"; validating against {upstream}" if upstream else "")
        )
        # After the first line, which running_standin() reads for the URL.
        for endpoint in state.webhooks.describe()["endpoints"]:
            click.echo(f"webhook {endpoint['id']} -> {endpoint['url']} (every event), signing "
                       f"secret {endpoint['secret']} (also GET {url}/_standin/webhooks)")
        sys.stdout.flush()

    try:
        serve(host, port, state, announce,
              exit_with_stdin=exit_with_stdin)
    finally:
        if container is not None:
            container.stop()


@click.command("stand-in")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=12111, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Default seed of probabilistic fault rules.")
@click.option("--ledger", "ledger", default=None, metavar="FILE",
              help="Write the ledger as JSON Lines here on shutdown and on "
              "POST /_standin/ledger/dump.")
@click.option("--ledger-journal", "journal", default=None, metavar="FILE",
              help="Append every ledger entry here as it happens (JSON Lines, one whole line "
              "each): the ledger survives even a SIGKILL of the stand-in.")
@click.option("--upstream", default=None, metavar="URL|docker",
              help="Validate each request against stripe-mock at URL first ('docker' starts one).")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="Deliver every event, signed, to URL (repeatable); the signing secrets are "
              "printed and shown by GET /_standin/webhooks.")
@click.option("--search-lag-ms", default=0, show_default=True, type=click.IntRange(0, 3_600_000),
              help="Every new Charge or PaymentIntent (and every write to one) stays out of "
              "search for N ms of the stand-in's clock, as Stripe's search lags writes.")
@click.option("--exit-with-stdin", is_flag=True, hidden=True,
              help="Stop when stdin closes (how running_standin() avoids orphans).")
def stand_in(
    host: str, port: int, seed: int, ledger: str | None, upstream: str | None,
    exit_with_stdin: bool, webhooks: tuple[str, ...], search_lag_ms: int, journal: str | None,
) -> None:
    """Run payrace's Stripe stand-in: Stripe's API with exact idempotency, a ledger and faults."""
    run_standin(host, port, seed, ledger, upstream, exit_with_stdin, webhooks, search_lag_ms,
                journal)


def main() -> None:
    """Entry point of `python -m harness.stripe_standin`: errors as one line and an exit code."""
    try:
        stand_in.main(prog_name="python -m harness.stripe_standin", standalone_mode=False)
    except click.ClickException as exc:  # a PayraceError too: its one line and code
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
