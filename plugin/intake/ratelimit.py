"""Intake rate limits (the ``limits`` library): per shopper IP, per contact and per shop.

Valid and invalid sign-ups are counted apart. A shopper's *invalid* requests (bad JSON, a bad
address, the honeypot) spend only a small per-IP budget; they never touch the shop's budget, so a
flood of junk cannot close a shop's sign-ups for real shoppers. *Valid* sign-ups count per IP, per
contact within the shop (the same address in another shop is another shopper's business) and per
shop, whose ceiling is the shop's ``intake_per_minute`` setting (a product drop can bring thousands
a minute).

Counters live in Redis when ``REDIS_URL`` is set (shared by every web process) and in memory on
the embedded default. Keys are HMACs, so neither an IP address nor a contact is stored in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

# Every intake limit, in one place. A shopper retrying a typo stays far below these; a script
# filling one store's waitlist does not. "shop" is the default; each shop's own setting
# (``intake_per_minute``) replaces it per call.
INTAKE_LIMITS = {
    "ip": "10/minute",
    "ip_invalid": "5/minute",
    "contact": "5/hour",
    "shop": "6000/minute",
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

    def hit(self, *, limits: dict[str, str] | None = None, **keys: str) -> RateDecision:
        """Count one request against each ``scope=key`` given; refuse if any scope is over its limit.

        Scopes are checked before counting, so a refused request does not push the shopper's
        window further out. ``limits`` replaces a scope's limit for this call (a shop's own ceiling).
        """
        items = {scope: _item(limits[scope]) if limits and scope in limits else self._items[scope] for scope in keys}
        hashed = {scope: self._hash(scope, key) for scope, key in keys.items()}
        refusal = self._refusal(items, hashed)
        if refusal is not None:
            return refusal
        for scope, key in hashed.items():
            self._limiter.hit(items[scope], key)
        return RateDecision(True)

    def check(self, **keys: str) -> RateDecision:
        """Would a request be refused now? Counts nothing."""
        hashed = {scope: self._hash(scope, key) for scope, key in keys.items()}
        return self._refusal({scope: self._items[scope] for scope in keys}, hashed) or RateDecision(True)

    def _refusal(self, items: dict[str, RateLimitItem], hashed: dict[str, str]) -> RateDecision | None:
        for scope, key in hashed.items():
            if not self._limiter.test(items[scope], key):
                return RateDecision(False, scope, self._retry_after(items[scope], key))
        return None

    def reset(self) -> None:
        self._storage.reset()

    def _retry_after(self, item: RateLimitItem, key: str) -> int:
        stats = self._limiter.get_window_stats(item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _hash(self, scope: str, key: str) -> str:
        return hmac.new(self._key, f"{scope}:{key}".encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=256)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)
