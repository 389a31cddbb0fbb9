"""Nothing personal travels through the broker: after the whole loop on a real worker — intake
by email and SMS, a restock, an order, the privacy topics — every Redis key and every queued or
unacknowledged message body (base64 decoded) is searched for the shoppers' and the customer's
contacts, names and the order."""

from __future__ import annotations

import base64
import binascii
import json

import pytest
import redis

from plugin.inbox.tasks import DRAIN_PENDING
from tests.doubles.app_proxy import signed_proxy_url
from tests.doubles.worker import wait_for
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

pytestmark = [pytest.mark.pg_only, pytest.mark.worker]

VARIANT, ITEM, LOCATION = 642667041472713922, 271878346596884015, 24826418
SHOPPER_EMAIL, SHOPPER_PHONE = "ottoline.quixley@gmail.com", "+14155552671"
CUSTOMER = {"id": 191167, "email": "barnaby.wexford@yahoo.com", "phone": "+16135550143",
            "first_name": "Barnaby", "last_name": "Wexford"}
ORDER = {"id": 820982911946154508, "name": "#48213", "email": CUSTOMER["email"], "currency": "USD",
         "total_price": "199.00", "customer": CUSTOMER,
         "line_items": [{"id": 1, "variant_id": VARIANT, "quantity": 1, "price": "199.00"}]}
SECRETS = ("ottoline", "quixley", "4155552671", "barnaby", "wexford", "6135550143", "48213", "820982911946154508")


def _everything_in(client: redis.Redis) -> str:
    """Every key with its value, message bodies decoded, lower-cased."""
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        values = {"string": lambda: [client.get(key)], "list": lambda: client.lrange(key, 0, -1),
                  "hash": lambda: [v for pair in client.hgetall(key).items() for v in pair],
                  "set": lambda: list(client.smembers(key)),
                  "zset": lambda: [m for m, _ in client.zrange(key, 0, -1, withscores=True)]}.get(kind, lambda: [])()
        parts.append(key.decode(errors="replace"))
        parts.extend(_decoded(v) for v in values)
    return "\n".join(parts).lower()


def _decoded(value: bytes) -> str:
    text = value.decode(errors="replace")
    try:
        message = json.loads(text)
    except ValueError:
        return text
    bodies = [message] if not isinstance(message, list) else message
    for item in bodies:
        if isinstance(item, dict) and isinstance(item.get("body"), str):
            try:
                text += "\n" + base64.b64decode(item["body"]).decode(errors="replace")
            except (binascii.Error, ValueError):
                pass
    return text


def test_no_contact_customer_or_order_in_any_redis_key_or_message(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, installed_shop
):
    # given two shoppers waiting (email and SMS), subscribed through the signed proxy
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={LOCATION: 0})
    for body in ({"variant_id": VARIANT, "email": SHOPPER_EMAIL},
                 {"variant_id": VARIANT, "phone": SHOPPER_PHONE, "channel": "sms", "consent": True}):
        assert client.post(signed_proxy_url("subscriptions", DEMO_SHOP, "hush"), json=body).status_code == 201
    # and the worker stopped at the end, so queued messages stay in Redis to be read
    wait_for(lambda: celery_worker.queue_length() == 0, timeout=30, worker=celery_worker)
    shopify_admin.set_level(DEMO_SHOP, ITEM, LOCATION, 4)
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, LOCATION, 4)).status_code == 200
    wait_for(lambda: sendgrid.messages, timeout=30, worker=celery_worker)
    celery_worker.stop()
    # when an order and the privacy topics arrive (queued, not yet taken by a worker)
    for topic, payload in (
        ("orders/create", ORDER),
        ("customers/data_request", {"shop_id": 1, "shop_domain": DEMO_SHOP, "orders_requested": [ORDER["id"]],
                                    "customer": CUSTOMER, "data_request": {"id": 9999}}),
        ("customers/redact", {"shop_id": 1, "shop_domain": DEMO_SHOP, "customer": CUSTOMER,
                              "orders_to_redact": [ORDER["id"]]}),
    ):
        assert deliver(client, topic, payload).status_code == 200
    # then the broker holds one drain for the three — no arguments at all — and its pending flag, and
    # nothing personal anywhere
    everything = _everything_in(redis.Redis.from_url(celery_worker.redis_url))
    assert "backbell.drain_inbox" in everything and DRAIN_PENDING in everything
    assert [secret for secret in SECRETS if secret in everything] == []
    # and once a worker runs them, still nothing (the unacked hash and the queue are read again)
    celery_worker.start()
    wait_for(lambda: celery_worker.queue_length() == 0, timeout=30, worker=celery_worker)
    everything = _everything_in(redis.Redis.from_url(celery_worker.redis_url))
    assert [secret for secret in SECRETS if secret in everything] == []
