"""One way to reach Redis for the app's own keys (bulk turns, provider pauses, health): a client that
gives up after ``TIMEOUT_SECONDS`` connecting or waiting for an answer, so an unreachable Redis costs a
caller a bounded wait and an error it handles, never a hung request or task.

``shared_redis_client`` is the one client per URL a process keeps, for the bulk turns, the provider
pauses and ``/healthz`` alike (before, the turns and the pauses each kept a client and a connection,
and ``/healthz`` connected anew on each call). redis-py's client is thread-safe, its pool opens new
connections after a fork, and a command that meets a connection Redis dropped (a restart) is
retried on a new one.
"""

from __future__ import annotations

from functools import lru_cache

import redis

TIMEOUT_SECONDS = 2.0


def redis_client(url: str) -> redis.Redis:
    """A new client (its own pool): for a caller that closes it."""
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)


@lru_cache(maxsize=16)
def shared_redis_client(url: str) -> redis.Redis:
    """This process's client for ``url``, made on first use (see the module docstring)."""
    return redis_client(url)
