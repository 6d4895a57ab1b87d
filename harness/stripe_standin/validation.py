"""Stripe's amount and currency rules for money-moving requests: supported currencies, limits."""

from __future__ import annotations

from typing import Any

from harness.stripe_standin.wire import StripeError

# The codes Stripe lists after "Stripe currently supports these currencies:" in its 400 for an
# unknown currency, in Stripe's order (as a real test-mode response listed them, 2024). Kept as
# Stripe sends them so the stand-in's message reads like Stripe's, retired codes included.
SUPPORTED_CURRENCIES: tuple[str, ...] = (
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad",
    "cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp",
    "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl",
    "hrk", "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr",
    "kmf", "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga",
    "mkd", "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio",
    "nok", "npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron",
    "rsd", "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std",
    "szl", "thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs",
    "vnd", "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw", "usdc", "btn", "ghs",
    "eek", "lvl", "svc", "vef", "ltl", "sll", "mro",
)
_SUPPORTED = frozenset(SUPPORTED_CURRENCIES)

# Minimum charge amounts in the smallest currency unit, from Stripe's table
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). A currency not in
# the table has no fixed minimum at Stripe: the charge must convert to at least the settlement
# currency's minimum at the day's rate, which the stand-in cannot know, so there it takes any
# positive amount (see docs/CONTRACTS.md).
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}

# "The amount value supports up to eight digits" (Stripe's API reference for `amount`).
MAXIMUM_AMOUNT = 99_999_999

# Currencies whose amounts are whole units (no minor unit), and those with three decimals:
# only for writing amounts in messages the way Stripe does.
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
})
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_SYMBOLS = {
    "usd": "$", "aud": "$", "cad": "$", "hkd": "$", "mxn": "$", "nzd": "$", "sgd": "$",
    "brl": "R$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "thb": "฿",
}


def format_amount(amount: int, currency: str) -> str:
    """An amount in minor units as Stripe writes it in messages: `$0.50`, `¥50`, `€999,999.99`."""
    decimals = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    major = f"{amount / 10**decimals:,.{decimals}f}"
    return f"{_SYMBOLS.get(currency, '')}{major}"


def check_currency(value: Any, param: str = "currency") -> str:
    """A supported currency, lower-cased, or Stripe's 400 listing the supported ones.

    Stripe's answer names the param and carries no `code`; the stand-in keeps it that way.
    """
    text = value.lower() if isinstance(value, str) else str(value)
    if text not in _SUPPORTED:
        raise StripeError(
            400,
            f"Invalid currency: {text}. Stripe currently supports these currencies: "
            + ", ".join(SUPPORTED_CURRENCIES),
            param=param,
        )
    return text


def check_charge_amount(amount: int, currency: str) -> None:
    """Stripe's `amount_too_small` / `amount_too_large` for a charge of `amount` (minor units)."""
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum is not None and amount < minimum:
        raise StripeError(
            400,
            f"Amount must be at least {format_amount(minimum, currency)} {currency}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise StripeError(
            400,
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )
