"""A provider's "wait" shared by every send chain: after a 429, no chain calls that provider again
before the time it asked for.

Parallel send chains (``dispatch_chains``) each send their own batches; a 429 answered to one of
them says the account is throttled, so the others must hold their next call too — not find out by
getting a 429 each. The pause lives where every worker process sees it: in Redis (one key per channel
that expires with the wait). Without Redis (tasks in-process) one loop sends at a time and stops at
a 429 itself, so there is nothing to share. Times are the real wall clock, as the provider's reset is.
"""

from __future__ import annotations

from typing import Protocol

import redis

from plugin.clock import wall_timestamp
from plugin.logging import get_logger
from plugin.redis_client import shared_redis_client

log = get_logger(__name__)

KEY = "backbell:provider-pause:{channel}"


class ProviderPauses(Protocol):
    def pause(self, channel: str, seconds: float) -> None:
        """The provider asked for ``seconds`` of quiet (a longer pause already set stays)."""

    def remaining(self, channel: str) -> float:
        """Seconds left before the channel's provider may be called again (0: now)."""


class RedisPauses:
    """In Redis, seen by every worker process; a Redis error never stops a send (the provider's
    own 429 is still honoured per chain), it is logged."""

    def __init__(self, url: str) -> None:
        self._client = shared_redis_client(url)

    def pause(self, channel: str, seconds: float) -> None:
        until = wall_timestamp() + seconds
        try:
            current = self._client.get(KEY.format(channel=channel))
            if current is None or float(current) < until:
                self._client.set(KEY.format(channel=channel), repr(until), px=max(1, int(seconds * 1000) + 1000))
        except (redis.RedisError, ValueError) as err:
            log.warning("provider_pause_unrecorded", channel=channel, error=type(err).__name__)

    def remaining(self, channel: str) -> float:
        try:
            current = self._client.get(KEY.format(channel=channel))
        except redis.RedisError as err:
            log.warning("provider_pause_unread", channel=channel, error=type(err).__name__)
            return 0.0
        if current is None:
            return 0.0
        try:
            return max(0.0, float(current) - wall_timestamp())
        except ValueError:
            return 0.0


def pauses_for(redis_url: str | None) -> ProviderPauses | None:
    """The shared pauses where chains run in parallel (Redis; every sender in the process on the one
    client ``shared_redis_client`` keeps for the URL); None without Redis."""
    return RedisPauses(redis_url) if redis_url else None
