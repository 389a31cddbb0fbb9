"""VIP ordering: the tags of the Shopify customers a restock may tell, read in bulk and cached.

Before a batch is planned, the linked customers among its candidates whose cached tags are
missing or older than ``CACHE_FOR`` are read through the Admin API, 250 to a ``nodes(ids:)``
call (the client waits out cost throttling with Shopify's own numbers) — never one call per
shopper. The plan then orders with one EXISTS over ``customer_tags`` (``candidates.is_vip``).

Tags that cannot be read (a deleted customer, a missing ``read_customers`` grant, Shopify
down) are cached as unreadable: those shoppers are not VIPs for this restock, and the decision
log says so once per read, per shopper.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, insert, literal, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import UTCDateTime, insert_for
from plugin.dispatch.candidates import candidates, linked_customer
from plugin.dispatch.email_links import link_customers_by_email
from plugin.logging import get_logger
from plugin.models import CustomerTags, Decision, RestockEvent, Shop, Subscription
from plugin.shop_settings import settings_for
from plugin.shopify.admin_api import AdminApiError, AdminClient
from plugin.shopify.customers import fetch_customer_tags

log = get_logger(__name__)

CACHE_FOR = timedelta(minutes=10)
UNREADABLE = "not VIP: customer tags unreadable"


def reads_customers(shop: Shop | None) -> bool:
    """Does planning this shop's restocks ask Shopify about customers first (``refresh_customer_tags``
    does something)? Most shops order by neither tags nor email links: their plan needs no read."""
    if shop is None:
        return False
    settings = settings_for(shop)
    return bool(settings.vip_tags) or (shop.active and settings.link_customers_by_email)


def refresh_customer_tags(runtime, event_id: int) -> list[int]:
    """Refresh the cached tags the event's next batch needs; the customer ids that could not be read.

    Runs in its own transaction, before the plan's: nothing is locked while Shopify is asked.
    Shoppers linked by email just now (``plugin.dispatch.email_links``) bring their tags along.
    """
    linked_tags = link_customers_by_email(runtime, event_id)
    with runtime.db.session() as session:
        event = session.get(RestockEvent, event_id)
        shop = session.get(Shop, event.shop_id) if event else None
        if shop is None or not settings_for(shop).vip_tags:
            return []
        store_tags(session, shop.id, linked_tags, utcnow())
        stale = stale_customers(session, event, utcnow())
        if not stale:
            return []
        tags = _read(runtime, session, shop, stale)
        store_tags(session, shop.id, tags, utcnow())
    unreadable = sorted(c for c, t in tags.items() if t is None)
    log.info("customer_tags_read", shop_id=shop.id, customers=len(tags), unreadable=len(unreadable))
    return unreadable


def stale_customers(session: Session, event: RestockEvent, now: datetime) -> list[int]:
    linked = linked_customer()
    fresh = exists(select(CustomerTags.customer_id).where(
        CustomerTags.shop_id == event.shop_id, CustomerTags.customer_id == linked,
        CustomerTags.read_at > now - CACHE_FOR))
    query = candidates(event, linked).where(linked.is_not(None), ~fresh).distinct()
    return sorted(session.scalars(query))


def _read(runtime, session: Session, shop: Shop, customer_ids: list[int]) -> dict[int, tuple[str, ...] | None]:
    try:
        with AdminClient.for_shop(runtime, session, shop) as client:
            return fetch_customer_tags(client, customer_ids)
    except AdminApiError as err:
        log.warning("customer_tags_unreadable", shop_id=shop.id, customers=len(customer_ids), error=err.message)
        return dict.fromkeys(customer_ids)


def store_tags(session: Session, shop_id: int, tags: dict[int, tuple[str, ...] | None], read_at: datetime) -> None:
    if not tags:
        return
    statement = insert_for(session)(CustomerTags)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "customer_id"],
        set_={"tags": statement.excluded.tags, "read_at": statement.excluded.read_at})
    session.execute(statement, [{"shop_id": shop_id, "customer_id": customer_id, "tags": tags_text(values),
                                 "read_at": read_at} for customer_id, values in tags.items()])


def tags_text(tags: tuple[str, ...] | None) -> str | None:
    """",vip,gold," — lower-case, comma-delimited (Shopify tags never hold a comma)."""
    if tags is None:
        return None
    return "," + ",".join(t.strip().lower() for t in tags) + ","


def log_unreadable(session: Session, event: RestockEvent, customer_ids: list[int]) -> None:
    """One decision per candidate whose linked customer's tags could not be read."""
    for start in range(0, len(customer_ids), 1000):
        chunk = customer_ids[start:start + 1000]
        session.execute(insert(Decision).from_select(
            ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "created_at"],
            candidates(event, Subscription.shop_id, literal(UNREADABLE), Subscription.variant_id, Subscription.id,
                       literal(event.id), literal(utcnow(), UTCDateTime()))
            .where(linked_customer().in_(chunk))))
