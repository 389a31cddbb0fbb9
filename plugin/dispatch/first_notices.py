"""First notices in flight, seen by every worker process, so that a big fan-out's bulk batches give
way to them on PostgreSQL too.

A big fan-out is bound by PostgreSQL: during a 20,000-shopper fan-out its backends took 1.0–1.7 of
the machine's 2 cores while the worker took 0.1–0.65 (bench/RESULTS.md, section 2). The bulk
thread's nice value (``plugin.priority``) yields the worker's own CPU, but its statements run in
backends at the normal priority, so another shop's first notice — a dozen small statements from
the plan to the record — queued behind 1,000-row statements there.

So while a restock's first batch is being planned and sent (``dispatch_restock``), it is listed
here; a bulk batch looks before each step that writes (its claim, its record) and, while any first
notice is listed, waits — ``MAX_WAIT`` at most per step, so a stream of first notices slows a
fan-out but never stops it. A step already running is not interrupted.

The list is a Redis sorted set of tokens scored by a deadline (the real wall clock, as every
process reads the same one): a process that dies with a notice in flight leaves a token that stops
counting at its deadline. Redis trouble never stops a send: the notice is simply not listed, or the
bulk batch does not wait. Without Redis (tasks in-process) one loop sends at a time: nothing to list.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis

from plugin.clock import wall_timestamp
from plugin.logging import get_logger

log = get_logger(__name__)

KEY = "backbell:first-notices"
TOKEN_SECONDS = 10.0  # a first notice takes ~0.1 s; a token older than this is a dead process's
MAX_WAIT = 0.25  # seconds a bulk step waits at most
POLL = 0.005


class FirstNotices:
    """The first notices in flight, in Redis."""

    def __init__(self, url: str, token_seconds: float = TOKEN_SECONDS) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2)
        self._token_seconds = token_seconds

    @contextmanager
    def sending(self) -> Iterator[None]:
        """List a first notice while the block runs (one round trip in, one out)."""
        token, now = uuid.uuid4().hex, wall_timestamp()
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(KEY, "-inf", now)  # the tokens of processes that died
                pipe.zadd(KEY, {token: now + self._token_seconds})
                pipe.expire(KEY, int(self._token_seconds) + 1)
                pipe.execute()
        except redis.RedisError as err:
            log.warning("first_notice_unlisted", error=type(err).__name__)
            token = None
        try:
            yield
        finally:
            if token is not None:
                try:
                    self._client.zrem(KEY, token)
                except redis.RedisError as err:  # it stops counting at its deadline
                    log.warning("first_notice_not_unlisted", error=type(err).__name__)

    def in_flight(self) -> int:
        return self._client.zcount(KEY, wall_timestamp(), "+inf")

    def give_way(self, max_wait: float = MAX_WAIT) -> float:
        """Wait while a first notice is in flight, ``max_wait`` seconds at most; the seconds waited."""
        started = time.monotonic()
        while True:
            try:
                busy = self.in_flight() > 0
            except redis.RedisError as err:
                log.warning("first_notices_unread", error=type(err).__name__)
                busy = False
            waited = time.monotonic() - started
            if not busy or waited >= max_wait:
                if waited >= POLL:  # it did wait: at most two lines per bulk batch (claim, record)
                    log.info("bulk_gave_way", waited_ms=round(waited * 1000, 1), first_notices_left=int(busy))
                return waited
            time.sleep(min(POLL, max_wait - waited))


@lru_cache(maxsize=8)
def first_notices_for(redis_url: str | None) -> FirstNotices | None:
    """One object per URL (its connection pool shared by the process); None without Redis."""
    return FirstNotices(redis_url) if redis_url else None
