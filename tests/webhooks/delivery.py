"""Helpers for webhook tests: sign and deliver bodies like Shopify, and seed waiting shoppers.

Signing is ``plugin.demo.signing`` (the demo delivers its webhooks with it); this module adds the
tests' defaults (secret ``hush``, the demo shop, fresh webhook ids).
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

from plugin.clock import utcnow
from plugin.demo import signing
from plugin.models import Contact, Subscription, Variant

SECRET = "hush"  # the app_config fixture's shopify_api_secret
DEMO_SHOP = "backbell-demo.myshopify.com"
_ids = itertools.count(1)


def sign(body: bytes, secret: str = SECRET) -> str:
    return signing.webhook_hmac(body, secret)


def webhook_headers(body: bytes, topic: str, shop: str = DEMO_SHOP, webhook_id: str | None = None,
                    secret: str = SECRET, triggered_at: datetime | None = None) -> dict[str, str]:
    """Shopify's headers for ``body`` (signed with ``plugin.demo.signing``), with test defaults."""
    return signing.webhook_headers(body, topic, shop, webhook_id or f"wh-{next(_ids)}", secret, triggered_at)


def deliver(client, topic: str, payload: dict, shop: str = DEMO_SHOP, webhook_id: str | None = None,
            secret: str = SECRET, triggered_at: datetime | None = None):
    body = json.dumps(payload).encode()
    headers = webhook_headers(body, topic, shop, webhook_id, secret, triggered_at)
    return client.post("/webhooks", data=body, headers=headers)


def shopify_stamp(seconds: float = 0, utc_offset_hours: int = -5) -> str:
    """An ``updated_at`` as Shopify writes it (local offset, second precision), ``seconds`` after
    the app clock's current second: deliveries are compared with stamps the app took from its clock."""
    moment = utcnow().replace(microsecond=0) + timedelta(seconds=seconds)
    return moment.astimezone(timezone(timedelta(hours=utc_offset_hours))).isoformat()


def level_payload(item: int, location: int, available: int | None, updated_at: str | None = None) -> dict:
    return {
        "inventory_item_id": item,
        "location_id": location,
        "available": available,
        "updated_at": updated_at or shopify_stamp(),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
    }


def add_waiting(session, vault, shop_id: int, variant_id: int, value: str = "jane.doe@gmail.com",
                channel: str = "email", customer_id: int | None = None) -> Subscription:
    contact = Contact(shop_id=shop_id, channel=channel, value_ciphertext=vault.encrypt(value),
                      value_hash=vault.hash(channel, value), customer_id=customer_id)
    session.add(contact)
    session.flush()
    subscription = Subscription(shop_id=shop_id, contact_id=contact.id, variant_id=variant_id, channel=channel,
                                customer_id=customer_id, consent_at=utcnow())
    session.add(subscription)
    session.commit()
    return subscription


def add_variant_row(session, shop_id: int, variant_id: int, inventory_item_id: int, available: int | None,
                    synced: bool = True, **fields) -> Variant:
    variant = Variant(shop_id=shop_id, variant_id=variant_id, inventory_item_id=inventory_item_id,
                      product_id=variant_id + 1_000_000, available=available,
                      synced_at=utcnow() if synced else None, **fields)
    session.add(variant)
    session.commit()
    return variant
