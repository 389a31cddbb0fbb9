"""Intake rate limits (the ``limits`` library): per shopper IP, per contact and per shop.

Valid and invalid sign-ups are counted apart. A shopper's *invalid* requests (bad JSON, a bad
address, the honeypot) spend only a small per-IP budget; they never touch the shop's budget, so a
flood of junk cannot close a shop's sign-ups for real shoppers. *Valid* sign-ups count per IP, per
contact within the shop (the same address in another shop is another shopper's business) and per
shop, whose ceiling is the shop's ``intake_per_minute`` setting (a product drop can bring thousands
a minute).

Counters live in Redis when ``REDIS_URL`` is set (shared by every web process) and in memory on
the embedded default. Keys are HMACs, so neither an IP address nor a contact is stored in Redis.

On Redis, ``hit`` tests and counts every scope in one script (one round trip instead of a test and
a hit per scope, six for a sign-up), on the very lists the ``limits`` library keeps for its moving
window, so ``check``, ``Retry-After`` and the library's own strategy read the same counters. The
script runs on a connection this thread keeps (``ScriptConnection``), not through the client's pool
and command layer: that layer cost a sign-up more CPU than the round trip itself (bench/README.md).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hiredis import pack_command
from limits import RateLimitItem, parse
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from plugin.crypto import keyed_hash
from plugin.redis_client import TIMEOUT_SECONDS

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

# The moving window of ``limits`` (its acquire_moving_window.lua) for several lists at once: a list
# holds the newest ``limit`` timestamps, newest first; it is full when its ``limit``-th entry is
# inside the window. Refuse (1-based index of the first full list) before counting anything, else
# count one in each list whose flag is 1 (0: tested only), trimming it to ``limit`` only when the push
# made it longer (most lists hold one entry: a shopper's address, a contact). KEYS: the lists; ARGV:
# now, then limit, expiry (seconds) and the flag per list.
_HIT_ALL = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local limit, expiry = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local entry = redis.call('lindex', key, limit - 1)
  if entry and tonumber(entry) >= now - expiry then
    return i
  end
end
for i, key in ipairs(KEYS) do
  local limit, expiry = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  if ARGV[3 * i + 1] == '1' then
    if redis.call('lpush', key, ARGV[1]) > limit then
      redis.call('ltrim', key, 0, limit - 1)
    end
    redis.call('expire', key, expiry)
  end
end
return 0
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    scope: str | None = None
    retry_after: int = 0  # seconds, for the Retry-After header


class RateLimiter:
    def __init__(self, storage_uri: str, key_secret: str, limits: dict[str, str] | None = None):
        # a sign-up waits TIMEOUT_SECONDS at most for Redis (connecting, or an answer), then is answered 503
        options = ({"key_prefix": KEY_PREFIX, "socket_timeout": TIMEOUT_SECONDS,
                    "socket_connect_timeout": TIMEOUT_SECONDS} if storage_uri.startswith("redis") else {})
        self._storage = storage_from_string(storage_uri, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {
            scope: parse(value) for scope, value in (limits or INTAKE_LIMITS).items()
        }
        self._key = hashlib.sha256(b"backbell rate limit:" + key_secret.encode()).digest()
        self._hit_all = (ScriptConnection(self._storage.get_connection().connection_pool, _HIT_ALL)
                         if isinstance(self._storage, RedisStorage) else None)

    @classmethod
    def for_settings(cls, settings) -> "RateLimiter":
        return cls(settings.redis_url or "memory://", settings.rate_limit_secret)

    def hit(self, *, limits: dict[str, str] | None = None, checks: dict[str, str] | None = None,
            **keys: str) -> RateDecision:
        """Count one request against each ``scope=key`` given; refuse if any scope is over its limit.

        Scopes are checked before counting, so a refused request does not push the shopper's
        window further out. ``checks`` are ``scope=key`` pairs tested first and not counted (a
        sign-up from an address that spent its budget of invalid ones); on Redis all of it is one
        round trip. ``limits`` replaces a scope's limit for this call (a shop's own ceiling).
        """
        checks = checks or {}
        items = {scope: _item(limits[scope]) if limits and scope in limits else self._items[scope]
                 for scope in [*checks, *keys]}
        tested = [(scope, self._hash(scope, key), False) for scope, key in checks.items()]
        counted = [(scope, self._hash(scope, key), True) for scope, key in keys.items()]
        if self._hit_all is not None:
            return self._hit_in_redis(items, tested + counted)
        refusal = self._refusal(items, {scope: key for scope, key, _ in tested + counted})
        if refusal is not None:
            return refusal
        for scope, key, _ in counted:
            self._limiter.hit(items[scope], key)
        return RateDecision(True)

    def _hit_in_redis(self, items: dict[str, RateLimitItem], lists: list[tuple[str, str, bool]]) -> RateDecision:
        arguments = [repr(time.time())]
        for scope, _, count in lists:
            arguments += _list_arguments(items[scope], count)
        keys = [self._redis_key(items[scope], key) for scope, key, _ in lists]
        full = int(self._hit_all(keys, arguments))
        if full == 0:
            return RateDecision(True)
        scope, key, _ = lists[full - 1]
        return RateDecision(False, scope, self._retry_after(items[scope], key))

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

    def _redis_key(self, item: RateLimitItem, hashed: str) -> str:
        """``limits``' own key for ``item`` and ``hashed`` (``prefixed_key(item.key_for(hashed))``, the
        list its moving window keeps), from parts built once per limit."""
        head, tail = _key_parts(self._storage.key_prefix, item)
        return head + hashed + tail

    def _hash(self, scope: str, key: str) -> str:
        return keyed_hash(self._key, scope, key)


@lru_cache(maxsize=1024)
def _list_arguments(item: RateLimitItem, counted: bool) -> tuple[str, str, str]:
    """A list's ARGV for ``_HIT_ALL`` (limit, expiry, flag), built once per limit."""
    return str(item.amount), str(item.get_expiry()), "1" if counted else "0"


class ScriptConnection:
    """One Lua script run on a Redis connection each thread keeps for it (a new one after a fork).

    What it skips of the client: the pool's checkout (a lock, a pid check and a poll of the socket
    per command) and the command layer (argument checks, retries, the ``Script`` helper), ~70 µs of
    CPU a call of ~115 on this script, as much as the round trip's own system calls. What it keeps:
    redis-py's ``Connection`` (the pool's class and settings: TLS, password, database, timeouts;
    hiredis's parser); the command is packed by hiredis straight from its ``str`` arguments.

    A kept connection Redis dropped (a restart) fails once, redis-py closes it, and the call is sent
    once more on a new one (a call whose answer was lost that way may count twice); a new
    connection that fails means Redis is down, and the caller answers 503. A script Redis no
    longer knows (``NOSCRIPT``, after a restart) is sent whole, which loads it again.
    """

    def __init__(self, pool: ConnectionPool, script: str):
        self._pool = pool
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._local = threading.local()

    def __call__(self, keys: list[str], args: list[str]) -> Any:
        connection = self._connection()
        was_connected = connection.is_connected
        try:
            return self._run(connection, keys, args)
        except RedisConnectionError:
            if not was_connected:
                raise  # a new connection failed: Redis is down
        # The kept connection was dropped since its last call (Redis restarted): once more, on a new one.
        return self._run(connection, keys, args)

    def _run(self, connection, keys: list[str], args: list[str]) -> Any:
        try:
            return self._send(connection, "EVALSHA", self._sha, keys, args)
        except NoScriptError:
            return self._send(connection, "EVAL", self._script, keys, args)

    @staticmethod
    def _send(connection, command: str, script: str, keys: list[str], args: list[str]) -> Any:
        connection.send_packed_command([pack_command((command, script, str(len(keys)), *keys, *args))],
                                       check_health=False)
        return connection.read_response()

    def _connection(self):
        kept = getattr(self._local, "kept", None)
        if kept is None or kept[0] != os.getpid():
            kept = (os.getpid(), self._pool.connection_class(**self._pool.connection_kwargs))
            self._local.kept = kept
        return kept[1]


@lru_cache(maxsize=256)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


@lru_cache(maxsize=256)
def _key_parts(prefix: str, item: RateLimitItem) -> tuple[str, str]:
    """What comes before and after the identifier in ``limits``' prefixed key for ``item``."""
    marker = "\0"
    head, tail = f"{prefix}:{item.key_for(marker)}".split(marker)
    return head, tail
