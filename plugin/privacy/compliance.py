"""Uninstall and the three mandatory privacy webhooks.

- ``app/uninstalled``: the shop's tokens are dropped and pending work stops; later webhooks for
  the shop (other than the privacy ones) are ignored until the merchant installs again.
- ``shop/redact`` (48 h after uninstall): the shop and everything of it is deleted.
- ``customers/redact``: that customer's contacts are deleted with their subscriptions and notices.
- ``customers/data_request``: the customer's data is gathered, encrypted, into a ``DataExport``.

A customer is matched by Shopify customer id and by the keyed hash of their email and phone, so
shoppers who subscribed as guests are found too.
"""

from __future__ import annotations

import json

import phonenumbers
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from plugin.intake.contacts import EMAIL, SMS, ContactError, normalise_email, normalise_phone
from plugin.crypto import Vault
from plugin.clock import utcnow
from plugin.logging import get_logger
from plugin.measurement import aggregates
from plugin.models import (
    PENDING, SENT, SKIPPED, Contact, DataExport, Decision, Notification, RestockEvent, Shop, Subscription,
    InboxDelivery,
)
from plugin.inventory.restock import OPEN_EVENT_STATUSES

log = get_logger(__name__)


def uninstall_shop(session: Session, shop: Shop) -> None:
    """Mark the shop uninstalled, forget its tokens, and stop what was still to be sent."""
    shop.uninstalled_at = utcnow()
    shop.access_token = shop.refresh_token = None
    shop.access_token_expires_at = shop.refresh_token_expires_at = None
    pending = session.execute(
        select(Notification.id).where(Notification.shop_id == shop.id, Notification.status == PENDING)
    ).scalars().all()
    if pending:
        session.execute(update(Notification).where(Notification.id.in_(pending)).values(status=SKIPPED))
        session.execute(insert(Decision), [
            {"shop_id": shop.id, "decision": "skipped: app uninstalled", "notification_id": n, "created_at": utcnow()}
            for n in pending
        ])
    session.execute(
        update(RestockEvent)
        .where(RestockEvent.shop_id == shop.id, RestockEvent.status.in_(OPEN_EVENT_STATUSES))
        .values(status="cancelled", finished_at=utcnow())
    )
    log.info("shop_uninstalled", shop_id=shop.id, notifications_skipped=len(pending))


def purge_shop(session: Session, shop_domain: str) -> bool:
    """Delete the shop; every table references it with ON DELETE CASCADE. False if it was unknown."""
    deleted = session.execute(delete(Shop).where(Shop.domain == shop_domain)).rowcount
    session.execute(delete(InboxDelivery).where(InboxDelivery.shop_domain == shop_domain))
    log.info("shop_purged", shop_domain=shop_domain, found=bool(deleted))
    return bool(deleted)


def redact_customer(session: Session, vault: Vault, shop: Shop, customer: dict) -> int:
    """Delete the customer's contacts, subscriptions (cascading to notices), decisions and exports.

    Subscriptions carrying the customer's id go too, even under an address another customer
    registered first; the decision log loses every line about the customer's subscriptions and notices.
    """
    contact_ids = [c.id for c in find_customer_contacts(session, vault, shop, customer)]
    customer_id = _customer_id(customer)
    subscription_ids = _customer_subscription_ids(session, shop, contact_ids, customer_id)
    if subscription_ids:
        notification_ids = select(Notification.id).where(Notification.subscription_id.in_(subscription_ids))
        session.execute(delete(Decision).where(
            Decision.shop_id == shop.id,
            or_(Decision.subscription_id.in_(subscription_ids), Decision.notification_id.in_(notification_ids)),
        ))
        aggregates.deleting_subscriptions(session, subscription_ids)
        session.execute(delete(Subscription).where(Subscription.id.in_(subscription_ids)))
    if contact_ids:
        session.execute(delete(Contact).where(Contact.id.in_(contact_ids)))
    if customer_id is not None:
        session.execute(delete(DataExport).where(DataExport.shop_id == shop.id, DataExport.customer_id == customer_id))
    log.info("customer_redacted", shop_id=shop.id, customer_id=customer_id, contacts_deleted=len(contact_ids))
    return len(contact_ids)


def _customer_subscription_ids(session: Session, shop: Shop, contact_ids: list[int],
                               customer_id: int | None) -> list[int]:
    matches = [Subscription.contact_id.in_(contact_ids)] if contact_ids else []
    if customer_id is not None:
        matches.append(Subscription.customer_id == customer_id)
    if not matches:
        return []
    return list(session.scalars(select(Subscription.id).where(Subscription.shop_id == shop.id, or_(*matches))))


def export_customer_data(
    session: Session, vault: Vault, shop: Shop, customer: dict, request_id: int | None
) -> DataExport:
    """Gather what Backbell holds on the customer into an encrypted ``DataExport`` (once per request)."""
    if request_id is not None:
        existing = session.execute(
            select(DataExport).where(DataExport.shop_id == shop.id, DataExport.shopify_request_id == request_id)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    contacts = find_customer_contacts(session, vault, shop, customer)
    data = {
        "shop": shop.domain,
        "customer_id": _customer_id(customer),
        "generated_at": utcnow().isoformat(),
        "contacts": [_contact_data(session, vault, contact) for contact in contacts],
    }
    export = DataExport(shop_id=shop.id, shopify_request_id=request_id, customer_id=_customer_id(customer),
                        payload_ciphertext=vault.encrypt(json.dumps(data, sort_keys=True)))
    session.add(export)
    session.flush()
    log.info("customer_data_exported", shop_id=shop.id, data_export_id=export.id, contacts=len(contacts))
    return export


def customer_contact_values(session: Session, vault: Vault, shop: Shop, customer: dict) -> set[str]:
    """Every address and number Backbell holds or was given for the customer (normalised)."""
    stored = {vault.decrypt(c.value_ciphertext) for c in find_customer_contacts(session, vault, shop, customer)}
    return stored | {value for _channel, value in _normalised_values(customer)}


def find_customer_contacts(session: Session, vault: Vault, shop: Shop, customer: dict) -> list[Contact]:
    matches = []
    customer_id = _customer_id(customer)
    if customer_id is not None:
        matches.append(Contact.customer_id == customer_id)
    for channel, value in _normalised_values(customer):
        matches.append((Contact.channel == channel) & Contact.value_hash.in_(vault.hashes(channel, value)))
    if not matches:
        return []
    query = select(Contact).where(Contact.shop_id == shop.id, or_(*matches)).order_by(Contact.id)
    return list(session.execute(query).scalars())


def _contact_data(session: Session, vault: Vault, contact: Contact) -> dict:
    subscriptions = session.execute(
        select(Subscription).where(Subscription.contact_id == contact.id).order_by(Subscription.id)
    ).scalars().all()
    return {
        "channel": contact.channel,
        "value": vault.decrypt(contact.value_ciphertext),
        "created_at": contact.created_at.isoformat(),
        "subscriptions": [_subscription_data(session, s) for s in subscriptions],
    }


def _subscription_data(session: Session, subscription: Subscription) -> dict:
    sent = session.execute(
        select(Notification).where(Notification.subscription_id == subscription.id, Notification.status == SENT)
        .order_by(Notification.id)
    ).scalars().all()
    return {
        "variant_id": subscription.variant_id,
        "product_id": subscription.product_id,
        "status": subscription.status,
        "locale": subscription.locale,
        "created_at": _iso(subscription.created_at),
        "consent_at": _iso(subscription.consent_at),
        "notified_at": _iso(subscription.notified_at),
        "unsubscribed_at": _iso(subscription.unsubscribed_at),
        "notifications_sent": [
            {"kind": n.kind, "channel": n.channel, "sent_at": _iso(n.sent_at), "discount_code": n.discount_code}
            for n in sent
        ],
    }


def _normalised_values(customer: dict) -> list[tuple[str, str]]:
    """(channel, value) pairs normalised the way intake stored them; unusable values are skipped."""
    values = []
    email = customer.get("email")
    if isinstance(email, str) and email.strip():
        try:
            values.append((EMAIL, normalise_email(email)))
        except ContactError:
            # Intake never stores what normalise_email refuses; plain lower-casing is the same rule for the rest.
            values.append((EMAIL, email.strip().lower()))
    phone = customer.get("phone")
    if isinstance(phone, str) and phone.strip():
        try:
            values.append((SMS, normalise_phone(phone, None)))
        except (ContactError, phonenumbers.NumberParseException):
            log.info("customer_phone_not_e164", reason="no country code; matched by customer id and email only")
    return values


def _customer_id(customer: dict) -> int | None:
    try:
        return int(customer["id"]) if customer.get("id") is not None else None
    except (TypeError, ValueError):
        return None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
