"""A shop with a variant in Shopify (the double) and in the mirror, shoppers waiting, a restock."""

from __future__ import annotations

import json

from sqlalchemy import select

from plugin.clock import utcnow
from plugin.inventory.mirror import LevelUpdate, upsert_level
from plugin.models import Decision, RestockEvent, Shop, Variant
from tests.dispatch.builders import subscribe
from tests.webhooks.delivery import DEMO_SHOP

VARIANT, PRODUCT, ITEM, WAREHOUSE = 47001, 9001, 57001, 111


def offer_shop(runtime, session, shopify_admin, installed_shop, units: int, shoppers: int, **settings) -> list[str]:
    """``units`` back at the warehouse (Shopify and mirror agree), ``shoppers`` waiting; their emails."""
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, product_id=PRODUCT, inventory_item_id=ITEM,
                              levels={WAREHOUSE: units}, product_title="Linen Shirt", handle="linen-shirt",
                              title="Blue / M")
    shop = session.get(Shop, installed_shop.id)
    shop.settings = settings
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, inventory_item_id=ITEM, product_id=PRODUCT,
                        available=units, synced_at=utcnow(), product_title="Linen Shirt",
                        product_handle="linen-shirt", title="Blue / M", price="49.00"))
    upsert_level(session, shop.id, LevelUpdate(ITEM, WAREHOUSE, units, utcnow()), from_admin_api=True)
    emails = [f"shopper{n}@example.com" for n in range(shoppers)]
    for email in emails:
        subscribe(session, runtime.vault, shop, email, variant_id=VARIANT)
    session.commit()
    return emails


def restock(session, shop_id: int, units: int) -> int:
    event = RestockEvent(shop_id=shop_id, variant_id=VARIANT, previous_available=0, available=units,
                         source="webhook")
    session.add(event)
    session.commit()
    return event.id


def outbox_lines(app_config) -> list[dict]:
    path = app_config["outbox_path"] / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def decisions(session, *names: str) -> list[Decision]:
    session.expire_all()
    query = select(Decision).order_by(Decision.id)
    return [d for d in session.scalars(query) if not names or d.decision in names]
