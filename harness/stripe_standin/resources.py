"""Charges, PaymentIntents and Refunds, with each money movement written to the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.stripe_standin.cards import decline_error, payment_method_object, test_card
from harness.stripe_standin.clock import Clock
from harness.stripe_standin.events import Events
from harness.stripe_standin.faults import Faults
from harness.stripe_standin.freshness import Freshness
from harness.stripe_standin.ledger import Ledger
from harness.stripe_standin.listing import Collection
from harness.stripe_standin.objects import charge_object, payment_intent_object, refund_object
from harness.stripe_standin.search import matches_query, parse_query
from harness.stripe_standin.validation import check_charge_amount, check_currency
from harness.stripe_standin.webhooks import Webhooks
from harness.stripe_standin.wire import (
    StripeError,
    as_bool,
    as_metadata,
    as_positive_int,
    new_id,
    reject_unknown,
    require,
)

_COMMON = frozenset({"expand"})
CHARGE_PARAMS = _COMMON | {
    "amount", "currency", "source", "metadata", "description", "receipt_email",
    "statement_descriptor", "statement_descriptor_suffix", "capture",
}
INTENT_PARAMS = _COMMON | {
    "amount", "currency", "payment_method", "confirm", "metadata", "description",
    "receipt_email", "payment_method_types", "automatic_payment_methods", "return_url",
    "off_session", "statement_descriptor", "statement_descriptor_suffix",
}
CONFIRM_PARAMS = _COMMON | {"payment_method", "return_url", "off_session", "receipt_email"}
REFUND_PARAMS = _COMMON | {"charge", "payment_intent", "amount", "metadata", "reason"}
SEARCH_PARAMS = _COMMON | {"query", "limit", "page"}


@dataclass(frozen=True)
class Context:
    """Who asked and when: what the ledger records beside each money movement."""

    now: float
    request_id: str
    idempotency_key: str | None
    api_key: str
    # How long this request's writes stay out of search (a search_lag rule, --search-lag-ms).
    search_lag_s: float = 0.0


def _missing(noun: str, object_id: str, param: str) -> StripeError:
    return StripeError(
        404, f"No such {noun}: '{object_id}'", code="resource_missing", param=param
    )


class Resources:
    """Every object the stand-in created, keyed by id; mutated only inside the event loop.

    Methods return the live objects, not copies: the API encodes each result to JSON before
    the event loop runs anything else, which is the snapshot Stripe would send (and cheaper
    than a deep copy on every request).
    """

    def __init__(self, ledger: Ledger, webhooks: Webhooks | None = None) -> None:
        self.ledger = ledger
        # Events are made on every change whoever listens (GET /v1/events needs them); the
        # webhooks see each one and deliver it only if an endpoint wants it.
        self.webhooks = webhooks or Webhooks(ledger, Clock(), Faults())
        self.events = Events()
        self.events.sink = self.webhooks.on_event
        # Collections are dicts that also keep creation order and an index per list filter.
        self.charges = Collection(indexed=("payment_intent",))
        self.intents = Collection()
        self.refunds = Collection(indexed=("charge", "payment_intent"))
        self.freshness = Freshness()

    def clear(self) -> None:
        """Forget every object (the ledger is cleared separately)."""
        self.charges.clear()
        self.intents.clear()
        self.refunds.clear()
        self.events.clear()
        self.webhooks.clear()
        self.freshness.clear()

    # ── validation: raises before anything executes, so nothing is stored on the key ──

    @staticmethod
    def validate_charge(params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, CHARGE_PARAMS)
        amount = as_positive_int(require(params, "amount"), "amount")
        currency = check_currency(require(params, "currency"))
        source = params.get("source")
        if not source:
            raise StripeError(
                400,
                "Missing required param: source. Pass a test token such as tok_visa.",
                code="parameter_missing",
                param="source",
            )
        if not isinstance(source, str):
            raise StripeError(400, "Invalid string: source", code="parameter_invalid_string",
                              param="source")
        if "capture" in params and not as_bool(params["capture"], "capture"):
            raise StripeError(400, "The stand-in supports only captured charges (capture=true).",
                              param="capture")
        # Last, so a request missing a parameter is told that first whatever its amount.
        check_charge_amount(amount, currency)
        return {
            "amount": amount,
            "currency": currency,
            "source": source,
            "metadata": as_metadata(params.get("metadata")),
            "description": params.get("description"),
        }

    @staticmethod
    def validate_intent(params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, INTENT_PARAMS)
        amount = as_positive_int(require(params, "amount"), "amount")
        currency = check_currency(require(params, "currency"))
        confirm = as_bool(params["confirm"], "confirm") if "confirm" in params else False
        method = params.get("payment_method") or None
        if confirm and method is None:
            raise StripeError(
                400,
                "Missing required param: payment_method (confirm=true needs one, such as "
                "pm_card_visa).",
                code="parameter_missing",
                param="payment_method",
            )
        # At create even without confirm, as Stripe checks: a confirm never re-checks it.
        check_charge_amount(amount, currency)
        return {
            "amount": amount,
            "currency": currency,
            "payment_method": method,
            "confirm": confirm,
            "metadata": as_metadata(params.get("metadata")),
            "description": params.get("description"),
        }

    @staticmethod
    def validate_confirm(params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, CONFIRM_PARAMS)
        return {"payment_method": params.get("payment_method") or None}

    @staticmethod
    def validate_refund(params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, REFUND_PARAMS)
        charge, intent = params.get("charge"), params.get("payment_intent")
        if not charge and not intent:
            raise StripeError(
                400,
                "Missing required param: charge (or payment_intent).",
                code="parameter_missing",
                param="charge",
            )
        if charge and intent:
            raise StripeError(
                400,
                "You may pass charge or payment_intent, but not both.",
                code="parameters_exclusive",
                param="payment_intent",
            )
        amount = as_positive_int(params["amount"], "amount") if "amount" in params else None
        return {
            "charge": charge or None,
            "payment_intent": intent or None,
            "amount": amount,
            "metadata": as_metadata(params.get("metadata")),
            "reason": params.get("reason"),
        }

    @staticmethod
    def validate_search(params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, SEARCH_PARAMS)
        clauses = parse_query(require(params, "query"))
        limit = as_positive_int(params["limit"], "limit") if "limit" in params else 10
        return {"clauses": clauses, "limit": min(limit, 100)}

    # ── execution: runs atomically in the event loop; its answer is stored on the key ──

    def _record_charge(self, ctx: Context, obj: dict[str, Any]) -> None:
        self.ledger.append(
            "charge",
            time=ctx.now,
            object=obj["object"],
            id=obj["id"],
            amount=obj["amount"],
            currency=obj["currency"],
            payment_id=obj["metadata"].get("payment_id"),
            idempotency_key=ctx.idempotency_key,
            request_id=ctx.request_id,
            api_key=ctx.api_key,
            status="succeeded",
        )

    def _event(self, event_type: str, obj: dict[str, Any], ctx: Context,
               payment_id: str | None) -> None:
        self.events.emit(event_type, obj, now=ctx.now, request_id=ctx.request_id,
                         idempotency_key=ctx.idempotency_key, payment_id=payment_id)

    def create_charge(self, args: dict[str, Any], ctx: Context) -> dict[str, Any]:
        card = test_card(args["source"], "source")
        charge = charge_object(
            amount=args["amount"], currency=args["currency"], card=card,
            metadata=args["metadata"], created=int(ctx.now), description=args["description"],
            payment_intent=None, payment_method="card_" + new_id("x")[2:],
        )
        self.charges[charge["id"]] = charge
        payment_id = args["metadata"].get("payment_id")
        self.freshness.created(charge, ctx.now, ctx.search_lag_s)
        if card.declines:
            self._event("charge.failed", charge, ctx, payment_id)
            raise decline_error(charge, card)
        self._record_charge(ctx, charge)
        self._event("charge.succeeded", charge, ctx, payment_id)
        return charge

    def create_intent(self, args: dict[str, Any], ctx: Context) -> dict[str, Any]:
        intent = payment_intent_object(
            amount=args["amount"], currency=args["currency"], metadata=args["metadata"],
            created=int(ctx.now), description=args["description"],
            payment_method=args["payment_method"],
        )
        self.intents[intent["id"]] = intent
        self._event("payment_intent.created", intent, ctx, args["metadata"].get("payment_id"))
        self.freshness.created(intent, ctx.now, ctx.search_lag_s)
        if args["confirm"]:
            return self._confirm(intent, ctx)
        return intent

    def confirm_intent(self, intent_id: str, args: dict[str, Any], ctx: Context) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "intent")
        self.freshness.updating(intent, ctx.now, ctx.search_lag_s)
        if args["payment_method"]:
            intent["payment_method"] = args["payment_method"]
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be confirmed: requires_confirmation, requires_payment_method, "
                "requires_action.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": intent},
            )
        if not intent["payment_method"]:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "Pass payment_method, e.g. pm_card_visa.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        return self._confirm(intent, ctx)

    def _confirm(self, intent: dict[str, Any], ctx: Context) -> dict[str, Any]:
        method = intent["payment_method"]
        card = test_card(method, "payment_method")
        if method.startswith("pm_card_"):
            # Stripe turns the shortcut into a fresh PaymentMethod id on first use.
            method = new_id("pm")
            intent["payment_method"] = method
        charge = charge_object(
            amount=intent["amount"], currency=intent["currency"], card=card, metadata={},
            created=int(ctx.now), description=intent["description"],
            payment_intent=intent["id"], payment_method=method,
        )
        self.charges[charge["id"]] = charge
        self.freshness.created(charge, ctx.now, ctx.search_lag_s)
        intent["latest_charge"] = charge["id"]
        # Stripe clears the previous attempt's error when the PaymentIntent is confirmed again.
        intent["last_payment_error"] = None
        payment_id = intent["metadata"].get("payment_id")
        if card.declines:
            error = decline_error(charge, card)
            intent["status"] = "requires_payment_method"
            # As at Stripe, a failed attempt detaches the method: confirming again needs a new
            # one (a 400 saying so), never a lookup of the declined card's generated id. The
            # error keeps the method that failed, as Stripe's `last_payment_error` does.
            intent["payment_method"] = None
            intent["last_payment_error"] = error.body()["error"] | {
                "payment_method": payment_method_object(method, card)}
            self._event("charge.failed", charge, ctx, payment_id)
            self._event("payment_intent.payment_failed", intent, ctx, payment_id)
            raise decline_error(charge, card, intent)
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        self._record_charge(ctx, intent)
        self._event("charge.succeeded", charge, ctx, payment_id)
        self._event("payment_intent.succeeded", intent, ctx, payment_id)
        return intent

    def refund(self, args: dict[str, Any], ctx: Context) -> dict[str, Any]:
        if args["charge"]:
            charge = self.charges.get(args["charge"])
            if charge is None:
                raise _missing("charge", args["charge"], "charge")
            payment_id = charge["metadata"].get("payment_id")
        else:
            intent = self.intents.get(args["payment_intent"])
            if intent is None:
                raise _missing("payment_intent", args["payment_intent"], "payment_intent")
            if intent["status"] != "succeeded":
                raise StripeError(
                    400,
                    f"PaymentIntent {intent['id']} has no successful charge to refund "
                    f"(its status is {intent['status']}).",
                    param="payment_intent",
                )
            charge = self.charges[intent["latest_charge"]]
            payment_id = intent["metadata"].get("payment_id")
        if charge["status"] != "succeeded":
            raise StripeError(
                400, f"Charge {charge['id']} has no captured funds to refund (it failed).",
                param="charge",
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining if args["amount"] is None else args["amount"]
        if remaining == 0:
            raise StripeError(
                400, f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        refund = refund_object(amount=amount, charge=charge, created=int(ctx.now),
                               metadata=args["metadata"], reason=args["reason"])
        self.refunds[refund["id"]] = refund
        self.freshness.updating(charge, ctx.now, ctx.search_lag_s)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        charge["refunds"]["total_count"] += 1
        self.ledger.append(
            "refund", time=ctx.now, id=refund["id"], charge=charge["id"], amount=amount,
            currency=charge["currency"], payment_id=payment_id,
            idempotency_key=ctx.idempotency_key, request_id=ctx.request_id,
        )
        # Stripe's order: the charge's change first, then the new refund.
        self._event("charge.refunded", charge, ctx, payment_id)
        self._event("refund.created", refund, ctx, payment_id)
        return refund

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise _missing("charge", charge_id, "id")
        return charge

    def get_intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "intent")
        return intent

    def search(self, kind: str, args: dict[str, Any], now: float) -> dict[str, Any]:
        """`GET /v1/charges/search` or `/v1/payment_intents/search`, as the index sees it now.

        Only search lags (Freshness); retrieve and list read the objects themselves.
        """
        store = self.charges if kind == "charge" else self.intents
        clauses = args["clauses"]
        found: list[dict[str, Any]] = []
        # Newest first, as Stripe orders search results; candidates keep creation order.
        for obj in reversed(store.candidates(clauses)):
            seen = self.freshness.view(obj, now)
            if seen is not None and matches_query(seen, clauses):
                found.append(seen)
        page = found[: args["limit"]]
        return {
            "object": "search_result",
            "data": page,
            "has_more": len(found) > len(page),
            "next_page": None,
            "total_count": len(found),
            "url": f"/v1/{'charges' if kind == 'charge' else 'payment_intents'}/search",
        }
