"""Linking shoppers to Shopify customers by their email address, when the merchant allows it
(``link_customers_by_email``).

A shopper who subscribed logged in is linked at sign-up (``logged_in_customer_id``); one who
typed an address is not, so VIP ordering cannot know them. Before a restock's batch is ordered,
its unlinked email candidates are looked up among the shop's customers — read from the database
by the restock's id, decrypted here in the worker (no address crosses the broker or reaches a
log), searched ``EMAILS_PER_SEARCH`` to a ``customers(query:)`` call (every address a quoted,
escaped value: see ``plugin.shopify.customers.email_search``), at most ``MAX_LOOKUPS`` shoppers
per plan so one big restock cannot spend the shop's whole API budget (the rest are looked up at
the next batch). The customer found is stored on the subscription, so later restocks do not ask
again; an address with no customer is not asked again for ``LOOK_AGAIN_AFTER``. The tags come
with the answer and go to the VIP cache (``plugin.dispatch.vip``).

A failed lookup leaves those shoppers unlinked — not VIPs for this restock — with a decision
each saying so; they are looked up again at the next batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, or_, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.dispatch.candidates import candidates, linked_customer
from plugin.logging import get_logger
from plugin.models import Contact, Decision, RestockEvent, Shop, Subscription
from plugin.shop_settings import settings_for
from plugin.shopify.admin_api import AdminApiError, AdminClient
from plugin.shopify.customers import fetch_customers_by_email

log = get_logger(__name__)

MAX_LOOKUPS = 2_500
LOOK_AGAIN_AFTER = timedelta(days=1)
LOOKUP_FAILED = "not VIP: customer lookup by email failed"


def link_customers_by_email(runtime, event_id: int) -> dict[int, tuple[str, ...]]:
    """Link the restock's unlinked email candidates to the shop's customers; returns the tags of
    the customers found (``{customer id: tags}``) for the VIP cache. Nothing when not allowed."""
    with runtime.db.session() as session:
        event = session.get(RestockEvent, event_id)
        shop = session.get(Shop, event.shop_id) if event else None
        if shop is None or not shop.active or not settings_for(shop).link_customers_by_email:
            return {}
        now = utcnow()
        addresses = _unlinked_addresses(session, runtime.vault, event, now)
        if not addresses:
            return {}
        try:
            with AdminClient.for_shop(runtime, session, shop) as client:
                found = fetch_customers_by_email(client, list(addresses.values()))
        except AdminApiError as err:
            # err.message may quote Shopify's error, which may quote the search: not logged.
            log.warning("customer_lookup_failed", shop_id=shop.id, shoppers=len(addresses), status=err.status)
            _log_failed(session, event, sorted(addresses), now)
            return {}
        linked = _store_links(session, addresses, found, now)
    log.info("customers_linked_by_email", shop_id=shop.id, restock_event_id=event_id, looked_up=len(addresses),
             linked=linked)
    return dict(found.values())


def unlinked_email_candidates(event: RestockEvent, now: datetime):
    """SELECT (subscription id, address ciphertext) of the event's email candidates linked to no
    customer and not looked up in the last ``LOOK_AGAIN_AFTER``, in registration order."""
    looked_up_lately = Subscription.customer_looked_up_at > now - LOOK_AGAIN_AFTER
    return (candidates(event, Subscription.id, Contact.value_ciphertext)
            .where(linked_customer().is_(None), Contact.channel == "email",
                   or_(Subscription.customer_looked_up_at.is_(None), ~looked_up_lately))
            .order_by(Subscription.id).limit(MAX_LOOKUPS))


def _unlinked_addresses(session: Session, vault, event: RestockEvent, now: datetime) -> dict[int, str]:
    addresses = {}
    for subscription_id, ciphertext in session.execute(unlinked_email_candidates(event, now)):
        try:
            addresses[subscription_id] = vault.decrypt(ciphertext).strip().lower()
        except ValueError:
            continue  # unreadable with the current keys: nothing to look up
    return addresses


def _store_links(session: Session, addresses: dict[int, str], found: dict, now: datetime) -> int:
    rows = [{"sid": sid, "customer": found[email][0] if email in found else None}
            for sid, email in sorted(addresses.items())]
    table = Subscription.__table__  # a Core executemany: one UPDATE per row, each by id
    session.execute(update(table).where(table.c.id == bindparam("sid"))
                    .values(customer_id=bindparam("customer"), customer_looked_up_at=now), rows)
    return sum(1 for row in rows if row["customer"] is not None)


def _log_failed(session: Session, event: RestockEvent, subscription_ids: list[int], now: datetime) -> None:
    session.execute(insert(Decision), [
        {"shop_id": event.shop_id, "decision": LOOKUP_FAILED, "variant_id": event.variant_id,
         "subscription_id": sid, "restock_event_id": event.id, "created_at": now} for sid in subscription_ids])
