"""With REDIS_URL set, the app keeps intake counters in Redis."""

import pytest
import redis

from plugin.models import Variant

VARIANT = 44012345678901


@pytest.fixture
def app_config(app_config, redis_url):
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("backbell-rl*"):
        client.delete(key)
    return {**app_config, "redis_url": redis_url}


def test_ip_limit_is_enforced_through_redis(post_subscription, session, shop, redis_url):
    # given a mirrored variant, so no sync task is queued on the Redis broker
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, available=0))
    session.commit()
    headers = {"X-Forwarded-For": "192.0.2.44"}

    # when
    answers = [post_subscription({"variant_id": VARIANT, "email": f"r{n}@shopper.dev"}, headers=headers).status_code
               for n in range(11)]

    # then
    assert answers == [201] * 10 + [429]
    assert redis.Redis.from_url(redis_url).keys("backbell-rl*")
