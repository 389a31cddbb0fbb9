"""One way to reach Redis for the app's own keys (bulk turns, provider pauses, health): a client that
gives up after ``TIMEOUT_SECONDS`` connecting or waiting for an answer, so an unreachable Redis costs a
caller a bounded wait and an error it handles, never a hung request or task."""

from __future__ import annotations

import redis

TIMEOUT_SECONDS = 2.0


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)
