"""Bulk batches take turns while other shops are restocking: a big fan-out shares the machine.

A big fan-out runs ``dispatch_chains`` bulk batches at once, and they are bound by PostgreSQL:
during a 20,000-shopper fan-out its backends took a whole core of the two, the worker most of the
other (bench/RESULTS.md, sections 2 and 3). The bulk thread's nice value (``plugin.priority``)
yields the worker's own CPU, but its statements run in backends at the normal priority, so another
shop's first notice shared PostgreSQL with two 1,000-row batches. Pausing bulk batches only while
a first notice was in flight did not help: the batches already running (a few hundred ms each)
outlast a first notice (tens of ms).

So the sharing is by shop, over a window: ``dispatch_restock`` notes its shop as restocking (a
Redis sorted set, scored by the time); while any *other* shop has restocked within ``WINDOW``
seconds, a bulk batch first takes the one bulk turn of the whole fleet (``SET NX`` on a key with a
lease), so a fan-out sends one batch at a time and leaves the rest of the machine to the other
shops. A shop's own restock never slows its own fan-out, and alone a fan-out keeps all its chains.
A batch waits for its turn ``MAX_WAIT`` seconds at most, then goes anyway: a stream of other
shops' restocks slows a fan-out, never stops it. Redis trouble never stops a send (logged; the
batch goes without a turn). Without Redis (tasks in-process) one loop sends at a time: nothing to
share. Times are the real wall clock, as every process reads the same one.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import redis

from plugin.clock import wall_timestamp
from plugin.logging import get_logger
from plugin.redis_client import shared_redis_client

log = get_logger(__name__)

RESTOCKING_KEY = "backbell:restocking-shops"
TURN_KEY = "backbell:bulk-turn"
WINDOW = 3.0  # seconds a shop's restock counts as activity
MAX_WAIT = 2.0  # seconds a bulk batch waits for its turn at most
TURN_LEASE = 30.0  # a turn whose holder died frees itself after this
POLL = 0.01

T = TypeVar("T")

# Free the turn only if this batch still holds it (its lease may have run out and passed on).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class BulkTurns:
    """The shops restocking now and the fleet's one bulk turn, in Redis."""

    def __init__(self, url: str, window: float = WINDOW, max_wait: float = MAX_WAIT,
                 lease: float = TURN_LEASE) -> None:
        self._client = shared_redis_client(url)
        self._release = self._client.register_script(_RELEASE)
        self.window, self.max_wait, self.lease = window, max_wait, lease

    def restocking(self, shop_id: int) -> None:
        """Note that ``shop_id`` is sending a restock's first notices (one round trip)."""
        now = wall_timestamp()
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.zadd(RESTOCKING_KEY, {str(shop_id): now})
                pipe.zremrangebyscore(RESTOCKING_KEY, "-inf", now - self.window)
                pipe.expire(RESTOCKING_KEY, math.ceil(self.window) + 1)
                pipe.execute()
        except redis.RedisError as err:
            log.warning("restock_unnoted", error=type(err).__name__)

    def others_restocking(self, shop_id: Callable[[], int | None]) -> bool:
        """Whether a shop other than this batch's restocked within the window. ``shop_id`` is asked
        only when some shop did (None: a batch of no restock, which every shop counts against)."""
        members = self._client.zrangebyscore(RESTOCKING_KEY, wall_timestamp() - self.window, "+inf")
        if not members:
            return False
        own = shop_id()
        return any(own is None or int(member) != own for member in members)

    def run(self, work: Callable[[], T], shop_id: Callable[[], int | None]) -> T:
        """``work()`` — in the fleet's bulk turn while other shops are restocking."""
        token = None
        try:
            if self.others_restocking(shop_id):
                token = self._take_turn()
        except redis.RedisError as err:
            log.warning("bulk_turn_unread", error=type(err).__name__)
        try:
            return work()
        finally:
            if token is not None:
                try:
                    self._release(keys=[TURN_KEY], args=[token])
                except redis.RedisError as err:  # it frees itself at the end of its lease
                    log.warning("bulk_turn_not_released", error=type(err).__name__)

    def _take_turn(self) -> str | None:
        """The turn's token, or None if ``max_wait`` passed first (the batch then goes anyway)."""
        token, started = uuid.uuid4().hex, time.monotonic()
        while True:
            if self._client.set(TURN_KEY, token, nx=True, px=int(self.lease * 1000)):
                waited = time.monotonic() - started
                if waited >= POLL:
                    log.info("bulk_turn_waited", waited_ms=round(waited * 1000, 1))
                return token
            if time.monotonic() - started >= self.max_wait:
                log.info("bulk_turn_skipped", waited_ms=round(self.max_wait * 1000))
                return None
            time.sleep(POLL)


def bulk_turns_for(redis_url: str | None) -> BulkTurns | None:
    """The fleet's bulk turns (on the process's one client for the URL, ``shared_redis_client``);
    None without Redis."""
    return BulkTurns(redis_url) if redis_url else None
