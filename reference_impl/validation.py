"""Validate client input at the HTTP boundary; each error names the field and what is accepted."""

from __future__ import annotations

from typing import Any

# Lower-case ISO 4217 codes the reference service accepts (all are Stripe settlement currencies).
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud", "jpy", "chf", "sek", "nok", "dkk")
MAX_AMOUNT = 99_999_999  # Stripe's largest amount for a charge, in minor units
MAX_CUSTOMER_LENGTH = 255

FAILPOINT_NAMES = ("before_charge", "after_charge", "before_commit")
FAILPOINT_ACTIONS = ("crash", "sleep", "drop_connection")


class FieldError(ValueError):
    """One bad field in a request body: answered with 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not an amount.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_new_payment(body: Any) -> tuple[int, str, str | None]:
    """The (amount, currency, customer) of a `POST /payments` body, or a FieldError."""
    if not isinstance(body, dict):
        raise FieldError("body", f"Expected a JSON object, got {type(body).__name__}")
    if "amount" not in body:
        raise FieldError("amount", "Missing amount: expected a positive integer in cents")
    amount = body["amount"]
    if not _is_int(amount):
        raise FieldError(
            "amount", f"Expected a positive integer amount in cents, got amount={amount!r}"
        )
    if amount <= 0 or amount > MAX_AMOUNT:
        raise FieldError(
            "amount", f"Expected an amount between 1 and {MAX_AMOUNT} cents, got amount={amount}"
        )
    currency = body.get("currency", "usd")
    if not isinstance(currency, str) or currency.lower() not in CURRENCIES:
        raise FieldError(
            "currency",
            f"Unknown currency={currency!r}; accepted: {', '.join(CURRENCIES)}",
        )
    customer = body.get("customer")
    if customer is not None and (
        not isinstance(customer, str) or len(customer) > MAX_CUSTOMER_LENGTH
    ):
        raise FieldError(
            "customer",
            f"Expected customer as a string of at most {MAX_CUSTOMER_LENGTH} characters, "
            f"got customer={customer!r:.60}",
        )
    return amount, currency.lower(), customer


def validate_failpoint(body: Any) -> tuple[str, str, int, int | None]:
    """The (name, action, ms, count) of a `POST /_admin/failpoints` body, or a FieldError."""
    if not isinstance(body, dict):
        raise FieldError("body", f"Expected a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - {"name", "action", "ms", "count"})
    if unknown:
        raise FieldError(
            unknown[0], f"Unknown field {unknown[0]!r}; accepted: name, action, ms, count"
        )
    name = body.get("name")
    if name not in FAILPOINT_NAMES:
        raise FieldError(
            "name", f"Unknown failpoint name={name!r}; accepted: {', '.join(FAILPOINT_NAMES)}"
        )
    action = body.get("action")
    if action not in FAILPOINT_ACTIONS:
        raise FieldError(
            "action",
            f"Unknown failpoint action={action!r}; accepted: {', '.join(FAILPOINT_ACTIONS)}",
        )
    ms = body.get("ms", 0)
    if not _is_int(ms) or ms < 0:
        raise FieldError("ms", f"Expected ms as a non-negative integer, got ms={ms!r}")
    if action == "sleep" and ms == 0:
        raise FieldError("ms", "A sleep failpoint needs ms > 0")
    count = body.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise FieldError(
            "count", f"Expected count as a positive integer or null, got count={count!r}"
        )
    return str(name), str(action), int(ms), count
