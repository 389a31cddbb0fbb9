"""Subscribers reach the merchant's Shopify customers (an App Store rule for data collected on the
storefront): the customer with the shopper's email or phone — created when Shopify has none —
carries the tag ``backbell-waiting`` while they wait, the waited variants in the app-owned
metafield ``$app:backbell.waiting_variants``, and email-marketing consent *only* when the shopper
ticked the box (SMS alerts need consent to the alert, which is not consent to marketing, so SMS
marketing consent is never set).

Contacts are marked due when a wait starts or ends (``plugin.measurement.aggregates``); a beat job
takes up to ``BATCH`` due contacts per shop and sends them as bulk mutations (``plugin.shopify.bulk``):
a handful of Admin API calls for the whole batch, none counted against the shop's rate limit.
A shop turns it off with the setting ``sync_customers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.crypto import Vault
from plugin.logging import get_logger
from plugin.models import WAITING, Contact, Shop, Subscription
from plugin.shop_settings import settings_for
from plugin.shopify import bulk
from plugin.shopify.admin_api import AdminClient
from plugin.shopify.errors import AdminApiError
from plugin.shopify.http import shopify_http_client
from plugin.shopify.gids import gid, parse_gid

log = get_logger(__name__)

TAG = "backbell-waiting"
NAMESPACE, KEY = "$app:backbell", "waiting_variants"
METAFIELDS_PER_LINE = 25  # metafieldsSet's limit
BATCH = 5000


@dataclass
class Shopper:
    contact_id: int
    channel: str
    value: str
    customer_id: int | None
    waited: list[int] = field(default_factory=list)
    consent_at: str | None = None  # ISO time of the first email consent, if any


@dataclass
class SyncReport:
    contacts: int = 0
    created_or_found: int = 0
    tagged: int = 0
    untagged: int = 0
    metafields: int = 0
    consents: int = 0
    failed: int = 0


def sync_shop(runtime, shop_id: int, sleep=None) -> SyncReport | None:
    """Sync one shop's due contacts (None when the shop is gone, uninstalled or has it off)."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or not sync_enabled(shop):
            return None
        shoppers = claim_due_shoppers(session, runtime.vault, shop)
        domain, double_opt_in = shop.domain, bool((shop.settings or {}).get("double_opt_in"))
    if not shoppers:
        return SyncReport()
    try:
        with runtime.db.session() as session, AdminClient.for_shop(runtime, session, domain) as client, \
                shopify_http_client(runtime.settings) as http:
            report = sync_shoppers(client, http, shoppers, double_opt_in, sleep)
            record_customers(session, shoppers)
    except AdminApiError:
        with runtime.db.session() as session:
            session.execute(update(Contact).where(Contact.id.in_([s.contact_id for s in shoppers]))
                            .values(customer_sync_due=True))
        raise
    log.info("customers_synced", shop_id=shop_id, contacts=report.contacts, created_or_found=report.created_or_found,
             tagged=report.tagged, untagged=report.untagged, consents=report.consents, failed=report.failed)
    return report


def due_shops(session: Session) -> list[int]:
    """Installed shops with contacts due for the sync."""
    return list(session.scalars(select(Contact.shop_id).join(Shop, Shop.id == Contact.shop_id)
                                .where(Contact.customer_sync_due, Shop.uninstalled_at.is_(None)).distinct()))


def claim_due_shoppers(session: Session, vault: Vault, shop: Shop, limit: int = BATCH) -> list[Shopper]:
    """Clear up to ``limit`` due marks (returning the contacts), then read what they wait for.

    The clear comes first, each in its own statement, so nothing slips between the read and the
    clear: a wait that starts or ends later marks the contact due again; one being recorded now
    holds the contact's row (the mark is written even when already set, ``plugin.measurement.
    aggregates``), so the clear waits for it to commit and the read, a later statement, sees it.
    Reading first and clearing after would leave such a change unsynced with no mark."""
    due = select(Contact.id).where(Contact.shop_id == shop.id, Contact.customer_sync_due).order_by(Contact.id).limit(limit)
    contacts = session.execute(update(Contact).where(Contact.id.in_(due), Contact.customer_sync_due)
                               .values(customer_sync_due=False)
                               .returning(Contact.id, Contact.channel, Contact.value_ciphertext, Contact.customer_id)
                               .execution_options(synchronize_session=False)).all()
    if not contacts:
        return []
    shoppers = {cid: Shopper(cid, channel, _readable(vault, ciphertext), customer_id)
                for cid, channel, ciphertext, customer_id in sorted(contacts)}
    rows = session.execute(select(Subscription.contact_id, Subscription.variant_id, Subscription.status,
                                  Subscription.consent_at, Subscription.customer_id, Subscription.confirm_by)
                           .where(Subscription.contact_id.in_(list(shoppers))).order_by(Subscription.id))
    for contact_id, variant_id, status, consent_at, customer_id, confirm_by in rows:
        shopper = shoppers[contact_id]
        shopper.customer_id = shopper.customer_id or customer_id
        # An unconfirmed (double opt-in) wait is not a wait yet: confirming marks the contact due.
        if status == WAITING and confirm_by is None and variant_id not in shopper.waited:
            shopper.waited.append(variant_id)
        if consent_at is not None and shopper.channel == "email" and shopper.consent_at is None:
            shopper.consent_at = consent_at.isoformat()
    return [s for s in shoppers.values() if s.value is not None]


def sync_shoppers(client, http, shoppers: list[Shopper], double_opt_in: bool, sleep=None) -> SyncReport:
    """Send the shoppers to Shopify; fills in ``customer_id`` of those Shopify now knows."""
    report = SyncReport(contacts=len(shoppers))
    targets = bulk.stage_files(client, 5)
    options = {"sleep": sleep} if sleep else {}
    missing = [s for s in shoppers if s.customer_id is None]
    if missing:
        report.created_or_found, report.failed = _upsert(client, http, targets[0], missing, options)
    known = [s for s in shoppers if s.customer_id is not None]
    runs = [(document, lines) for document, lines in _follow_up_lines(known, double_opt_in) if lines]
    ids = []
    for target, (document, lines) in zip(targets[1:], runs):
        bulk.upload(http, target, lines)
        ids.append(bulk.start(client, document, target, f"backbell-sync-{document.rsplit('/', 1)[-1]}"))
    results = bulk.wait(client, http, ids, **options) if ids else {}
    report.failed += sum(_failures(r.lines) for r in results.values())
    counts = {document: len(lines) for document, lines in runs}
    report.tagged, report.untagged = counts.get("customers/CustomerTagsAdd", 0), counts.get(
        "customers/CustomerTagsRemove", 0)
    report.metafields = sum(len(line["metafields"]) for d, lines in runs if d.endswith("MetafieldsSet")
                            for line in lines)
    report.consents = counts.get("customers/CustomerEmailConsent", 0)
    return report


def record_customers(session: Session, shoppers: list[Shopper]) -> None:
    now = utcnow()
    for shopper in shoppers:
        values = {"customer_synced_at": now}
        if shopper.customer_id is not None:
            values["customer_id"] = shopper.customer_id
        session.execute(update(Contact).where(Contact.id == shopper.contact_id).values(**values))


def sync_enabled(shop: Shop) -> bool:
    return shop.active and settings_for(shop).sync_customers


def _upsert(client, http, target, shoppers: list[Shopper], options: dict) -> tuple[int, int]:
    lines = [{"identifier": {_field(s): s.value}, "input": {_field(s): s.value}} for s in shoppers]
    bulk.upload(http, target, lines)
    operation = bulk.start(client, "customers/CustomerUpsert", target, "backbell-sync-CustomerUpsert")
    result = bulk.wait(client, http, [operation], **options)[operation]
    found = 0
    for line in result.lines:
        payload = (line.get("data") or {}).get("customerSet") or {}
        number = line.get("__lineNumber")
        customer = payload.get("customer") or {}
        if isinstance(number, int) and 0 <= number < len(shoppers) and customer.get("id"):
            shoppers[number].customer_id = parse_gid(customer["id"], "Customer")
            found += 1
    return found, len(shoppers) - found


def _follow_up_lines(known: list[Shopper], double_opt_in: bool):
    tag_add = [{"id": gid("Customer", s.customer_id), "tags": [TAG]} for s in known if s.waited]
    tag_remove = [{"id": gid("Customer", s.customer_id), "tags": [TAG]} for s in known if not s.waited]
    metafields = [{"ownerId": gid("Customer", s.customer_id), "namespace": NAMESPACE, "key": KEY,
                   "type": "list.variant_reference",
                   "value": json.dumps([gid("ProductVariant", v) for v in s.waited])} for s in known]
    metafield_lines = [{"metafields": metafields[i:i + METAFIELDS_PER_LINE]}
                       for i in range(0, len(metafields), METAFIELDS_PER_LINE)]
    level = "CONFIRMED_OPT_IN" if double_opt_in else "SINGLE_OPT_IN"
    consents = [{"input": {"customerId": gid("Customer", s.customer_id), "emailMarketingConsent": {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": level, "consentUpdatedAt": s.consent_at}}}
        for s in known if s.consent_at is not None]
    return [("customers/CustomerTagsAdd", tag_add), ("customers/CustomerTagsRemove", tag_remove),
            ("customers/CustomerMetafieldsSet", metafield_lines), ("customers/CustomerEmailConsent", consents)]


def _failures(lines: list[dict]) -> int:
    failed = 0
    for line in lines:
        payloads = (line.get("data") or {}).values()
        if line.get("errors") or any((p or {}).get("userErrors") for p in payloads):
            failed += 1
    return failed


def _field(shopper: Shopper) -> str:
    return "email" if shopper.channel == "email" else "phone"


def _readable(vault: Vault, ciphertext: str) -> str | None:
    try:
        return vault.decrypt(ciphertext)
    except ValueError:
        return None

