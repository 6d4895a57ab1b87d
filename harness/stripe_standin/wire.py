"""Stripe's wire format: bracket-syntax forms, typed parameters, ids and the error envelope."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from typing import Any
from urllib.parse import unquote_plus

# Stripe's error types, as the SDK maps them to exception classes.
INVALID_REQUEST = "invalid_request_error"
API_ERROR = "api_error"
CARD_ERROR = "card_error"
IDEMPOTENCY_ERROR = "idempotency_error"

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


class StripeError(Exception):
    """An answer in Stripe's error envelope, with its HTTP status and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe sends: `{"error": {...}}` with only the fields that apply."""
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


# Ids need uniqueness, not secrecy: a PRNG seeded from the OS is far cheaper per request than
# `secrets`, and ids never collide across stand-in restarts because each seed is fresh.
_ids = random.Random(secrets.randbits(128))


def new_id(prefix: str) -> str:
    """A Stripe-looking object id such as `ch_3f9a…` (24 random alphanumerics after the prefix)."""
    return f"{prefix}_{_ids.getrandbits(96):024x}"


def new_request_id() -> str:
    """A `req_…` id for the Request-Id header."""
    return f"req_{_ids.getrandbits(56):014x}"


def pairs_digest(pairs: list[tuple[str, str]]) -> str:
    """A sha256 of the parameters, independent of their order (list items keep theirs).

    This is how a key's reuse is compared: the same parameters sent in another order are the
    same request, as at Stripe.
    """
    canonical = "&".join(f"{k}={v}" for k, v in sorted(pairs, key=lambda kv: kv[0]))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _split_key(key: str) -> list[str]:
    """`metadata[payment_id]` → `["metadata", "payment_id"]`; raise on unbalanced brackets."""
    head, bracket, rest = key.partition("[")
    if not head or "]" in head:
        raise _bad_key(key)
    parts = [head]
    if bracket:
        rest = "[" + rest
        consumed = 0
        for match in _KEY_PART.finditer(rest):
            if match.start() != consumed:
                raise _bad_key(key)
            parts.append(match.group(1))
            consumed = match.end()
        if consumed != len(rest):
            raise _bad_key(key)
    return parts


def _bad_key(key: str) -> StripeError:
    return StripeError(
        400,
        f"Invalid request: unable to parse the parameter name {key!r}; expected names like "
        "`amount`, `metadata[payment_id]` or `expand[]`.",
        param=key,
    )


def parse_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Split `a=1&b%5Bc%5D=2` into decoded `(name, value)` pairs; 400 if it is not a form."""
    if not raw:
        return []
    pairs: list[tuple[str, str]] = []
    try:
        for field in raw.decode("utf-8").split("&"):
            if not field:
                continue
            key, eq, value = field.partition("=")
            if not eq:
                raise ValueError(f"field {field[:40]!r} has no '='")
            # Decoding only what needs it: most Stripe parameters are plain ASCII.
            if "%" in key or "+" in key:
                key = unquote_plus(key, errors="strict")
            if "%" in value or "+" in value:
                value = unquote_plus(value, errors="strict")
            pairs.append((key, value))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StripeError(
            400,
            "Invalid request: the body is not valid form encoding "
            f"(application/x-www-form-urlencoded, UTF-8): {exc}",
        ) from None
    return pairs


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nest pairs by Stripe's bracket syntax: `metadata[payment_id]`, `expand[]`, `items[0][x]`."""
    result: dict[str, Any] = {}
    nested = False
    for key, value in pairs:
        if "[" not in key and "]" not in key:
            if isinstance(result.get(key), (dict, list)):
                raise _conflict(key)
            result[key] = value
        elif key.endswith("]") and key.count("[") == 1 and key.count("]") == 1 and key[0] != "[":
            # The common one-level case, `metadata[payment_id]`, without the general parser.
            head, _, name = key[:-1].partition("[")
            node = result.setdefault(head, [] if name == "" else {})
            if name == "" and isinstance(node, list):
                node.append(value)
            elif name != "" and isinstance(node, dict) and not isinstance(
                node.get(name), (dict, list)
            ):
                node[name] = value
                nested = nested or name.isdigit()
            else:
                raise _conflict(key)
        else:
            nested = True
            _assign(result, _split_key(key), value, key)
    return _lists_from_indexes(result) if nested else result


def decode_form(raw: bytes) -> dict[str, Any]:
    """Decode an `application/x-www-form-urlencoded` body with Stripe's bracket syntax."""
    return decode_pairs(parse_pairs(raw))


def _assign(target: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node = target
    for index, part in enumerate(parts[:-1]):
        nxt = parts[index + 1]
        existing = node.get(part)
        if existing is None:
            existing = [] if nxt == "" else {}
            node[part] = existing
        if isinstance(existing, list):
            if nxt != "" or index + 1 != len(parts) - 1:
                raise _conflict(key)
            existing.append(value)
            return
        if not isinstance(existing, dict):
            raise _conflict(key)
        node = existing
    last = parts[-1]
    if last in node and isinstance(node[last], (dict, list)):
        raise _conflict(key)
    node[last] = value


def _conflict(key: str) -> StripeError:
    return StripeError(
        400,
        f"Invalid request: parameter {key!r} mixes a value with a hash or an array.",
        param=key.partition("[")[0],
    )


def _lists_from_indexes(node: dict[str, Any]) -> dict[str, Any]:
    """Turn `{"0": a, "1": b}` (from `items[0]=a`) into a list, as Stripe's parser does.

    Metadata keys are free text, so `metadata[0]` stays a key.
    """
    for key, value in list(node.items()):
        if isinstance(value, dict):
            _lists_from_indexes(value)
            if key != "metadata" and value and all(k.isdigit() for k in value):
                node[key] = [value[k] for k in sorted(value, key=int)]
    return node


def require(params: dict[str, Any], name: str) -> Any:
    """The value of a required parameter, or Stripe's `parameter_missing` naming it."""
    value = params.get(name)
    if value is None or value == "":
        raise StripeError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return value


def as_positive_int(value: Any, name: str) -> int:
    """A positive integer parameter (`amount`), else `parameter_invalid_integer` naming it."""
    text = value if isinstance(value, str) else None
    if text is None or not re.fullmatch(r"-?\d+", text):
        raise StripeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        )
    number = int(text)
    if number <= 0:
        raise StripeError(
            400,
            f"Invalid positive integer: {name} must be at least 1 (in the smallest currency unit), "
            f"got {number}.",
            code="parameter_invalid_integer",
            param=name,
        )
    return number


def as_bool(value: Any, name: str) -> bool:
    """A boolean parameter sent as `true`/`false`, else `parameter_invalid_boolean` naming it."""
    if value in ("true", "false"):
        return bool(value == "true")
    raise StripeError(
        400,
        f"Invalid boolean: {value!r}; expected true or false.",
        code="parameter_invalid_boolean",
        param=name,
    )


def as_currency(value: Any, name: str = "currency") -> str:
    """A three-letter ISO currency code, lower-cased as Stripe returns it."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{3}", value):
        return value.lower()
    raise StripeError(
        400,
        f"Invalid currency: {value}. Expected a three-letter ISO code such as usd or eur.",
        code="parameter_invalid_string",
        param=name,
    )


def as_metadata(value: Any) -> dict[str, str]:
    """`metadata[...]` as a flat dict of strings; Stripe refuses nested or scalar metadata."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StripeError(
            400,
            "Invalid hash: metadata must be key-value pairs such as metadata[payment_id]=pay_1.",
            param="metadata",
        )
    return dict(value)


def reject_unknown(params: dict[str, Any], allowed: frozenset[str]) -> None:
    """Stripe's `parameter_unknown` for a top-level parameter the endpoint does not take."""
    for name in params:
        if name not in allowed:
            raise StripeError(
                400,
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )


def unrecognized_url(method: str, path: str) -> StripeError:
    """Stripe's 404 for a URL no endpoint serves."""
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )
