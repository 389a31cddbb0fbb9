"""Rows for dispatch, channel and link tests (plain functions; the session is committed by the caller)."""

from __future__ import annotations

from sqlalchemy import insert, select

from plugin.models import Contact, RestockEvent, Shop, Subscription, Variant

SHOP_DOMAIN = "bell-test.myshopify.com"
VARIANT_ID = 44001
PRODUCT_ID = 8001


def make_shop(session, domain: str = SHOP_DOMAIN, **fields) -> Shop:
    shop = Shop(domain=domain, name=fields.pop("name", "Bell Test"), currency=fields.pop("currency", "EUR"), **fields)
    session.add(shop)
    session.flush()
    return shop


def make_variant(session, shop: Shop, available: int = 5, **fields) -> Variant:
    values = dict(variant_id=VARIANT_ID, product_id=PRODUCT_ID, title="Blue / M", product_title="Linen Shirt",
                  product_handle="linen-shirt", price="49.00", available=available)
    values.update(fields)
    variant = Variant(shop_id=shop.id, **values)
    session.add(variant)
    session.flush()
    return variant


def subscribe(session, vault, shop: Shop, value: str, channel: str = "email", locale: str = "en",
              variant_id: int = VARIANT_ID, **fields) -> Subscription:
    contact = Contact(shop_id=shop.id, channel=channel, value_ciphertext=vault.encrypt(value),
                      value_hash=vault.hash(channel, value))
    session.add(contact)
    session.flush()
    subscription = Subscription(shop_id=shop.id, contact_id=contact.id, variant_id=variant_id,
                                product_id=PRODUCT_ID, channel=channel, locale=locale, **fields)
    session.add(subscription)
    session.flush()
    return subscription


def subscribe_many(session, vault, shop: Shop, count: int, variant_id: int = VARIANT_ID) -> list[str]:
    """``count`` waiting email subscriptions in registration order; returns their addresses.

    Plain executemany without RETURNING (the fast path for 20,000 rows); contact ids are then
    read back by hash so subscriptions are registered exactly in the order of the returned list.
    """
    emails = [f"shopper{i:06d}@example.com" for i in range(count)]
    hashes = {vault.hash("email", e): position for position, e in enumerate(emails)}
    session.execute(insert(Contact), [
        {"shop_id": shop.id, "channel": "email", "value_ciphertext": vault.encrypt(e), "value_hash": h}
        for h, e in zip(hashes, emails)])
    rows = session.execute(select(Contact.id, Contact.value_hash).where(Contact.shop_id == shop.id)).all()
    contact_ids = [cid for cid, h in sorted((r for r in rows if r[1] in hashes), key=lambda r: hashes[r[1]])]
    session.execute(insert(Subscription), [
        {"shop_id": shop.id, "contact_id": cid, "variant_id": variant_id, "product_id": PRODUCT_ID,
         "channel": "email", "locale": "en", "status": "waiting"} for cid in contact_ids])
    session.flush()
    return emails


def make_event(session, shop: Shop, available: int = 5, variant_id: int = VARIANT_ID) -> RestockEvent:
    event = RestockEvent(shop_id=shop.id, variant_id=variant_id, previous_available=0, available=available,
                         source="webhook")
    session.add(event)
    session.flush()
    return event
