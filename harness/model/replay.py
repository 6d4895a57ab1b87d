"""Replaying a printed counterexample program: `with replaying(...) as PaymentModel:`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

from harness.errors import PayraceError
from harness.model.cause import diagnose
from harness.model.checks import PaymentViolation
from harness.model.environment import FAULT_FAMILIES, EnvironmentFailure
from harness.model.machine import ModelFactory, model_for
from harness.model.parts import PartsRequest, open_environment
from harness.targets.registry import quiet_provider_logs
from harness.targets.settle import EXPLORE_SETTLE_S


@contextlib.contextmanager
def replaying(
    target: str,
    *,
    workers: int = 2,
    faults: Sequence[str] = FAULT_FAMILIES,
    stripe_url: str | None = None,
    database_url: str | None = None,
    seed: int = 0,
    db_query: str | None = None,
    settle_s: float = EXPLORE_SETTLE_S,
    service_pid: int | None = None,
    adapter: str | None = None,
) -> Iterator[ModelFactory]:
    """Provision the parts as `payrace explore` did and hand out the model to replay steps.

    When the block raises a violation it is printed with its cause and the process exits
    1; when it ends cleanly the violation did not reproduce and the process exits 0.
    """
    request = PartsRequest(
        target=target,
        workers=workers,
        faults=tuple(faults),
        stripe_url=stripe_url,
        database_url=database_url,
        seed=seed,
        db_query=db_query,
        settle_s=settle_s,
        service_pid=service_pid,
        adapter=adapter,
    )
    try:
        quiet_provider_logs(request.spec().kind)
        with open_environment(request) as (env, _parts):
            try:
                yield model_for(env)
            except PaymentViolation as violation:
                print(f"payrace: violation reproduced — {violation}")
                if violation.example is not None:
                    cause = diagnose(violation.example, violation, workers)
                    print(f"payrace: cause ({cause.kind}): {cause.sentence}")
                sys.stdout.flush()
                raise SystemExit(1) from None
    except EnvironmentFailure as exc:
        print(f"payrace: {exc.error}", file=sys.stderr)
        raise SystemExit(exc.error.exit_code) from None
    except PayraceError as exc:
        print(f"payrace: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    print("payrace: the program ran to the end without a violation: it did not reproduce")
