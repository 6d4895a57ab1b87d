"""Stripe's idempotency keys: scoped to the API key, one stored response each, pruned at 24 h."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.stripe_standin.wire import IDEMPOTENCY_ERROR, INVALID_REQUEST, StripeError

MAX_KEY_LENGTH = 255
KEY_LIFETIME_SECONDS = 24 * 3600


@dataclass
class StoredResponse:
    """What a key remembers: the endpoint and parameters it was first used with, and the answer."""

    endpoint: str
    digest: str
    created: float
    status: int | None = None  # None while the first request still executes
    body: bytes | None = None  # the JSON exactly as first sent
    headers: dict[str, str] = field(default_factory=dict)
    # Real (monotonic) time of the last request to carry the key, started or answered: a key
    # used this recently is in the middle of an attempt, whatever the movable clock says.
    touched: float = field(default_factory=time.monotonic)

    @property
    def in_flight(self) -> bool:
        return self.status is None


class IdempotencyStore:
    """The keys of every API key; the event loop is the only writer, so no lock is needed."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], StoredResponse] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def validate_key(key: str) -> None:
        """Stripe refuses keys longer than 255 characters (and empty ones), storing nothing."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise StripeError(
                400,
                f"Invalid Idempotency-Key: it must be 1 to {MAX_KEY_LENGTH} characters long, "
                f"got {len(key)}.",
                type=INVALID_REQUEST,
                param="Idempotency-Key",
            )

    def begin(
        self, api_key: str, key: str, endpoint: str, digest: str, now: float
    ) -> StoredResponse | None:
        """Claim the key for a new execution (None), or return the stored answer to replay.

        Raises Stripe's 400 `idempotency_error` for a reuse with other parameters or on another
        endpoint, and 409 `idempotency_key_in_use` while the first request still executes.
        """
        self.prune(now)
        stored = self._keys.get((api_key, key))
        if stored is None:
            self._keys[(api_key, key)] = StoredResponse(endpoint, digest, now)
            return None
        if stored.endpoint != endpoint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
                type=IDEMPOTENCY_ERROR,
            )
        if stored.digest != digest:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type=IDEMPOTENCY_ERROR,
            )
        stored.touched = time.monotonic()
        if stored.in_flight:
            raise StripeError(
                409,
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                code="idempotency_key_in_use",
            )
        return stored

    def finish(
        self,
        api_key: str,
        key: str,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Store the first response on the key; replays return it unchanged."""
        stored = self._keys.get((api_key, key))
        if stored is not None and stored.in_flight:
            stored.touched = time.monotonic()
            stored.status = status
            stored.body = body
            stored.headers = dict(headers or {})

    def release(self, api_key: str, key: str) -> None:
        """Forget a claim whose request never executed (so nothing is stored on the key)."""
        stored = self._keys.get((api_key, key))
        if stored is not None and stored.in_flight:
            del self._keys[(api_key, key)]

    def prune(self, now: float) -> int:
        """Drop finished keys at least 24 hours old on the stand-in's clock; return how many."""
        cutoff = now - KEY_LIFETIME_SECONDS
        # Keys sit in insertion order and the clock only moves forward, so the old ones are at
        # the front: stop at the first young key and pruning costs only what it removes.
        old: list[tuple[str, str]] = []
        for k, v in self._keys.items():
            if v.created > cutoff:
                break
            if not v.in_flight:
                old.append(k)
        for k in old:
            del self._keys[k]
        return len(old)

    def renew_in_use(self, now: float, within_s: float,
                     except_keys: frozenset[str] = frozenset()) -> int:
        """Start a new lifetime at `now` for every key still executing or used in the last
        `within_s` real seconds, but those in `except_keys`; return how many.

        Called as the clock jumps a day: the jump stands for a day passing *between* attempts,
        so a key in the middle of one (its request executing, or the SDK about to retry it)
        is taken to have been used after the jump, never forgotten under its own retry.
        """
        if within_s <= 0:
            return 0
        recent = time.monotonic() - within_s
        renewed = [k for k, v in self._keys.items()
                   if (v.in_flight or v.touched >= recent) and k[1] not in except_keys]
        for k in renewed:
            # To the back, where keys as young as `now` belong: prune relies on the order.
            stored = self._keys.pop(k)
            stored.created = now
            self._keys[k] = stored
        return len(renewed)

    def clear(self) -> None:
        """Forget every key."""
        self._keys.clear()
