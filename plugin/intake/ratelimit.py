"""Intake rate limits (the ``limits`` library): per shopper IP, per contact and per shop.

Counters live in Redis when ``REDIS_URL`` is set (shared by every web process) and in memory on
the embedded default. Keys are HMACs, so neither an IP address nor a contact is stored in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

# Every intake limit, in one place. A shopper retrying a typo stays far below these; a script
# filling one store's waitlist does not.
INTAKE_LIMITS = {
    "ip": "10/minute",
    "contact": "5/hour",
    "shop": "600/minute",
}
KEY_PREFIX = "backbell-rl"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    scope: str | None = None
    retry_after: int = 0  # seconds, for the Retry-After header


class RateLimiter:
    def __init__(self, storage_uri: str, key_secret: str, limits: dict[str, str] | None = None):
        options = {"key_prefix": KEY_PREFIX} if storage_uri.startswith("redis") else {}
        self._storage = storage_from_string(storage_uri, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {
            scope: parse(value) for scope, value in (limits or INTAKE_LIMITS).items()
        }
        self._key = hashlib.sha256(b"backbell rate limit:" + key_secret.encode()).digest()

    @classmethod
    def for_settings(cls, settings) -> "RateLimiter":
        return cls(settings.redis_url or "memory://", settings.rate_limit_secret)

    def hit(self, **keys: str) -> RateDecision:
        """Count one request against each ``scope=key`` given; refuse if any scope is over its limit.

        Scopes are checked before counting, so a refused request does not push the shopper's
        window further out.
        """
        hashed = {scope: self._hash(scope, key) for scope, key in keys.items()}
        for scope, key in hashed.items():
            if not self._limiter.test(self._items[scope], key):
                return RateDecision(False, scope, self._retry_after(scope, key))
        for scope, key in hashed.items():
            self._limiter.hit(self._items[scope], key)
        return RateDecision(True)

    def reset(self) -> None:
        self._storage.reset()

    def _retry_after(self, scope: str, key: str) -> int:
        stats = self._limiter.get_window_stats(self._items[scope], key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _hash(self, scope: str, key: str) -> str:
        return hmac.new(self._key, f"{scope}:{key}".encode(), hashlib.sha256).hexdigest()
