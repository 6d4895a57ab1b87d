"""`python:module:factory`: W instances of the user's service object, one per simulated worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine

from harness.clients import Client, InProcessClient, Service
from harness.clients.service import offers
from harness.errors import ProvisionError
from harness.model.targets import TargetSpec
from harness.provision.postgres import libpq_url, normalize_url
from harness.targets.abilities import Abilities
from harness.targets.dbfaults import DatabaseFaults
from harness.targets.python_factory import Factory, build_service, load_factory


class PythonTarget:
    """A foreign service in payrace's process: judged like an HTTP target, called directly.

    Every instance shares the database payrace made (the factory creates its own tables
    there) and the stand-in. One more instance, never recorded, serves payrace's reads,
    snapshot and clock. Nothing is reset between examples: the object's rows stay.
    """

    can_failpoints = False
    can_kill_workers = False

    def __init__(
        self,
        spec: TargetSpec,
        database_url: str,
        stripe_url: str,
        workers: int,
        factory: Factory | None = None,
    ) -> None:
        self.spec = spec
        self.workers = workers
        self.database_url = normalize_url(database_url)
        # What a service's DATABASE_URL usually is: psycopg.connect takes it as is.
        self.service_database_url = libpq_url(database_url)
        self._make: Factory = factory or load_factory(spec.value)
        self._stripe_url = stripe_url
        # Built now, not at the first call: a factory that raises is a part that did not
        # start (exit 3), never an outcome of some step.
        self._spares: list[list[Service]] = []
        self._admin = self._build()
        self._clients: list[InProcessClient] = []
        try:
            for i in range(workers):
                instance = self._first_then_fresh(self._build())
                self._clients.append(InProcessClient(instance, None, name=f"w{i}"))
        except BaseException:
            self.close_instances()
            raise
        self.can_reconcile = offers(self._admin, "reconcile")
        self.can_move_clock = offers(self._admin, "move_clock")
        self.can_drop_connections = True
        self.abilities = Abilities.python(
            database_url,
            snapshot=offers(self._admin, "snapshot"),
            reconcile=self.can_reconcile,
            clock=self.can_move_clock,
        )
        # The harness's own connection, for the database fault family and lock watching.
        self._engine = create_engine(database_url, pool_size=1, max_overflow=2, pool_pre_ping=True)
        self._db = DatabaseFaults(self._engine, database_url)

    def _build(self) -> Service:
        return build_service(
            self._make, self.spec.label, self.service_database_url, self._stripe_url
        )

    def _first_then_fresh(self, first: Service) -> Callable[[], Service]:
        """The worker's instance; after a simulated crash, a new one (a restarted worker)."""
        spare = [first]
        self._spares.append(spare)

        def make() -> Service:
            return spare.pop() if spare else self._build()

        return make

    def clients(self) -> list[Client]:
        return list(self._clients)

    def reset(self) -> None:
        """The object's rows stay; every example creates new payments instead."""

    def _admin_call(self, method: str, *args: Any) -> Any:
        """One call of an optional method; its exception means the part stopped working."""
        try:
            return getattr(self._admin, method)(*args)
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            raise ProvisionError(
                f"{self.spec.label}: {method}() raised {type(exc).__name__}: {text}"
            ) from None

    def snapshot(self) -> list[dict[str, Any]] | None:
        if not self.abilities.snapshot:
            return None
        rows = self._admin_call("snapshot")
        return [dict(row, id=str(row["id"])) for row in rows if "id" in row]

    def read_rows(self, payment_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Rows as get_payment shows them; a read that raises is left out, as a lost GET is."""
        rows: dict[str, dict[str, Any]] = {}
        for pid in payment_ids:
            try:
                row = self._admin.get_payment(pid)
            except Exception:
                continue
            if isinstance(row, dict):
                rows[pid] = {**row, "id": str(row.get("id", pid))}
        return rows

    def arm_failpoint(self, name: str, action: str, ms: int) -> None:
        raise NotImplementedError("a python: target has no failpoints")

    def clear_failpoints(self) -> None:
        """Nothing to clear: no failpoints."""

    def blocked_requests(self) -> int:
        return self._db.blocked_requests()

    def drop_connections(self) -> int:
        return self._db.drop_connections()

    def kill_workers(self) -> list[int]:
        raise NotImplementedError("in-process Python workers share payrace's process")

    def move_clock(self, seconds: float) -> None:
        self._admin_call("move_clock", seconds)

    def part(self) -> dict[str, Any]:
        return {"tier": "python", "factory": self.spec.value, "workers": self.workers}

    def close_instances(self) -> None:
        """Close every instance the factory made (those that offer close())."""
        for client in self._clients:
            client.close()
        # Instances whose worker never made a call were never handed to its client.
        unused = [instance for spare in self._spares for instance in spare]
        for instance in [*unused, self._admin]:
            close = getattr(instance, "close", None)
            if callable(close):
                close()

    def close(self) -> None:
        self.close_instances()
        self._engine.dispose()
