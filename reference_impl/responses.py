"""The HTTP status and body of every answer a variant gives to `charge` (docs/TARGETS.md)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from reference_impl.provider import ChargeOutcome

Reply = tuple[int, dict[str, Any]]


def _correlation() -> str:
    return f"corr_{uuid.uuid4().hex[:16]}"


def completed(payment_id: str, charge_id: str) -> Reply:
    return 200, {"id": payment_id, "status": "completed", "charge_id": charge_id}


def processing(payment_id: str) -> Reply:
    """Accepted, outcome not yet known: the reconciler will settle it."""
    return 202, {"id": payment_id, "status": "processing"}


def not_found(payment_id: str) -> Reply:
    return 404, {"error": {"code": "not_found", "message": f"No payment with id {payment_id!r}"}}


def conflict(payment: dict[str, Any]) -> Reply:
    """409: already completed or failed, or another request holds it right now."""
    status = payment["status"]
    code = "in_progress" if status in ("pending", "processing") else "already_processed"
    return 409, {
        "error": {"code": code, "message": f"Payment {payment['id']} is {status}"},
        "id": payment["id"],
        "status": status,
        "charge_id": payment.get("charge_id"),
    }


def declined(outcome: ChargeOutcome) -> Reply:
    return 402, {
        "error": {
            "code": "card_declined",
            "provider_code": outcome.provider_code,
            "correlation_id": outcome.correlation_id,
            "message": outcome.message or "The card was declined",
        }
    }


def provider_failed(outcome: ChargeOutcome) -> Reply:
    """502: the provider failed or did not answer; whether money moved is unknown."""
    return 502, {
        "error": {
            "code": "provider_error",
            "provider_code": outcome.provider_code,
            "correlation_id": outcome.correlation_id,
            "message": outcome.message[:300],
        }
    }


def database_failed(exc: SQLAlchemyError) -> Reply:
    """503: the database failed mid-flow (killed connection, failed commit, pool exhausted)."""
    cause = str(getattr(exc, "orig", None) or exc).strip()
    first_line = cause.splitlines()[0] if cause else type(exc).__name__
    return 503, {
        "error": {
            "code": "database_error",
            "provider_code": None,
            "correlation_id": _correlation(),
            "message": first_line[:300],
        }
    }


def internal_error(exc: BaseException) -> Reply:
    return 500, {
        "error": {
            "code": "internal_error",
            "provider_code": None,
            "correlation_id": _correlation(),
            "message": f"{type(exc).__name__}: {exc}"[:300],
        }
    }
