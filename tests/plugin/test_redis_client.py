"""The app's own Redis keys (bulk turns, provider pauses, health) go over one client per process."""

from __future__ import annotations

import uuid

from plugin.dispatch.pauses import pauses_for
from plugin.dispatch.turns import bulk_turns_for
from plugin.redis_client import redis_client, shared_redis_client


def _connections_named(url: str, name: str) -> int:
    with redis_client(url) as observer:  # a URL without the name: the observer is not counted
        return sum(1 for client in observer.client_list() if client.get("name") == name)


def test_turns_and_pauses_share_one_connection(redis_url):
    # Send tasks ask for their turns and pauses by URL; the two used to keep a client (and a
    # connection) each. Both used, from several tasks: one connection to Redis.
    name = f"backbell-test-{uuid.uuid4().hex[:8]}"
    url = f"{redis_url}?client_name={name}"
    held = []
    for shop_id in range(5):
        turns, pauses = bulk_turns_for(url), pauses_for(url)
        turns.restocking(shop_id)
        pauses.remaining("email")
        held += [turns, pauses]
    assert _connections_named(redis_url, name) == 1
    assert shared_redis_client(url) is shared_redis_client(url)
    assert shared_redis_client(url) is not shared_redis_client(redis_url)
