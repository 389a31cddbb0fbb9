"""The merchant's subscriber list: filter, search by exact contact, page, delete, export.

Contacts are stored encrypted; a search normalises the typed email or phone the way intake did and
looks it up by its keyed hash (under every configured key), so it finds exactly that shopper and
never needs to decrypt the table. Pages go newest first by id, keyset-paged (``plugin.admin.paging``),
which stays fast and exact at any depth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.orm import Session

from plugin.admin.paging import Cursor, Order, Page, keyset_page
from plugin.crypto import Vault
from plugin.intake.contacts import ContactError, normalise_email, normalise_phone
from plugin.measurement import aggregates
from plugin.models import Contact, Decision, Shop, Subscription, Variant

STATUSES = ("waiting", "notified", "unsubscribed")
CHANNELS = ("email", "sms")
CSV_HEADER = ("id", "contact", "channel", "status", "variant_id", "product_title", "variant_title", "locale",
              "consent", "consent_at", "customer_id", "created_at", "notified_at", "unsubscribed_at")


class SearchError(ValueError):
    """The search text is neither a valid email address nor a phone number with its country."""


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    variant_id: int | None = None
    channel: str | None = None
    contact_ids: tuple[int, ...] | None = None  # from a search; () finds nobody


def search_contacts(session: Session, vault: Vault, shop: Shop, typed: str) -> tuple[int, ...]:
    """The ids of the shop's contacts whose email or phone is exactly ``typed`` (after normalising)."""
    channel = "email" if "@" in typed else "sms"
    try:
        value = normalise_email(typed) if channel == "email" else normalise_phone(
            typed, (shop.settings or {}).get("country_code"))
    except ContactError:
        raise SearchError(typed) from None
    return tuple(session.scalars(select(Contact.id).where(
        Contact.shop_id == shop.id, Contact.channel == channel, Contact.value_hash.in_(vault.hashes(channel, value)))))


def subscriber_query(shop: Shop, filters: Filters):
    query = (select(Subscription, Contact.value_ciphertext, Variant.product_title, Variant.title)
             .join(Contact, Contact.id == Subscription.contact_id)
             .outerjoin(Variant, and_(Variant.shop_id == Subscription.shop_id,
                                      Variant.variant_id == Subscription.variant_id))
             .where(Subscription.shop_id == shop.id))
    if filters.status:
        query = query.where(Subscription.status == filters.status)
    if filters.status == "waiting":  # an unconfirmed (double opt-in) shopper does not wait yet
        query = query.where(Subscription.confirm_by.is_(None))
    if filters.variant_id:
        query = query.where(Subscription.variant_id == filters.variant_id)
    if filters.channel:
        query = query.where(Subscription.channel == filters.channel)
    if filters.contact_ids is not None:
        query = query.where(Subscription.contact_id.in_(filters.contact_ids or (-1,)))
    return query


ORDER = (Order(Subscription.id, descending=True),)


def subscriber_page(session: Session, vault: Vault, shop: Shop, filters: Filters, limit: int,
                    cursor: Cursor | None = None) -> Page:
    """Newest first; the rows as ``subscriber_json``. (The older ``before=<id>`` parameter is
    ``Cursor("next", (id,))``.)"""
    page = keyset_page(session, subscriber_query(shop, filters), ORDER, lambda row: (row[0].id,), limit, cursor)
    return Page([subscriber_json(vault, *row) for row in page.rows], page.next, page.previous)


def subscriber_rows(session: Session, vault: Vault, shop: Shop, filters: Filters) -> Iterator[tuple]:
    """Every matching subscriber as a CSV row, streamed (server-side cursor, 2,000 rows at a time)."""
    query = subscriber_query(shop, filters).order_by(Subscription.id.desc()).execution_options(yield_per=2000)
    for subscription, ciphertext, product_title, variant_title in session.execute(query):
        s = subscription
        yield (s.id, _contact(vault, ciphertext), s.channel, s.counted_status, s.variant_id, product_title, variant_title,
               s.locale, s.consent_at is not None, s.consent_at, s.customer_id, s.created_at, s.notified_at,
               s.unsubscribed_at)


def subscriber_json(vault: Vault, s: Subscription, ciphertext: str, product_title: str | None,
                    variant_title: str | None) -> dict:
    iso = lambda at: at.isoformat() if at else None  # noqa: E731
    return {"id": s.id, "contact": _contact(vault, ciphertext), "channel": s.channel, "status": s.counted_status,
            "variant_id": s.variant_id, "product_title": product_title, "variant_title": variant_title,
            "locale": s.locale, "consent": s.consent_at is not None, "consent_at": iso(s.consent_at),
            "customer_id": s.customer_id, "created_at": iso(s.created_at), "notified_at": iso(s.notified_at),
            "unsubscribed_at": iso(s.unsubscribed_at)}


def delete_subscriber(session: Session, shop: Shop, subscription_id: int) -> dict | None:
    """Delete one of the shop's subscriptions (its notices go with it), and its contact when the
    contact has no other subscription. None when the shop has no such subscription."""
    subscription = session.scalar(select(Subscription).where(Subscription.id == subscription_id,
                                                             Subscription.shop_id == shop.id))
    if subscription is None:
        return None
    contact_id, variant_id = subscription.contact_id, subscription.variant_id
    aggregates.deleting_subscriptions(session, [subscription_id])
    session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    others = session.scalar(select(exists().where(Subscription.contact_id == contact_id)))
    if not others:
        session.execute(delete(Contact).where(Contact.id == contact_id))
    session.add(Decision(shop_id=shop.id, decision="deleted by merchant", variant_id=variant_id,
                         subscription_id=subscription_id, detail={"contact_deleted": not others}))
    return {"id": subscription_id, "contact_deleted": not others}


def _contact(vault: Vault, ciphertext: str) -> str | None:
    try:
        return vault.decrypt(ciphertext)
    except ValueError:
        return None  # stored under a key no longer configured: shown as unknown, never a 500
