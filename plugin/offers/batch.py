"""The dispatcher's offers hook: before a claimed batch of restock notices is sent, every notice of
it gets its personal code (when the shop gives codes) and its held unit (when the shop holds
units) — in Shopify first, then on the notice.

``prepare_batch(runtime, claim)`` returns the claim to send. A notice that cannot get a unit
because every unit is held leaves the batch (``skipped: every unit is held``; the shopper keeps
their place in line). Anything else that fails after the retries leaves the notice in the batch
without that offer, and the decision log says why — never a silent blank.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import ids_in
from plugin.dispatch.plan import Claim, find_variant, held_by
from plugin.logging import get_logger
from plugin.models import SKIPPED, Contact, Decision, Notification, RestockEvent, Shop, Subscription
from plugin.offers import holds
from plugin.offers.discounts import DiscountSpec, add_codes, ensure_discount
from plugin.offers.shopify_calls import OfferFailed, ShopifyOffers, with_retries
from plugin.shop_settings import ShopSettings, settings_for
from plugin.shopify.gids import gid, parse_gid

log = get_logger(__name__)

NO_CODE = "code failed: sent without a code"
NO_HOLD = "hold failed: sent without a held unit"
EVERY_UNIT_HELD = "skipped: every unit is held"


@dataclass(frozen=True)
class BatchFacts:
    """What the offers need to know about a claimed batch, read in one short transaction."""

    shop_id: int
    shop_domain: str
    event_id: int
    variant_id: int
    product_id: int | None
    product_title: str
    settings: ShopSettings
    needing_codes: tuple[int, ...]  # notices without a code yet
    needing_holds: tuple[int, ...]  # notices without a hold yet


def prepare_batch(runtime, claim: Claim, shop: Shop | None = None, sleep=time.sleep) -> Claim:
    """Codes and held units for the claimed notices; the claim without the notices that must wait.

    ``shop``: the restock's shop as the claim read it, if known: a shop offering neither codes nor
    held units (most) is answered without a transaction."""
    if shop is not None and _no_offers(settings_for(shop)):
        return claim
    with runtime.db.session() as session:
        facts = _facts(session, claim)
    if facts is None:
        return claim
    shopify = ShopifyOffers(runtime, facts.shop_domain)
    ensure_primary_domain(runtime.db, shopify, facts.shop_id)
    if facts.settings.discount_percent and facts.needing_codes:
        _give_codes(runtime.db, shopify, claim, facts, sleep)
    if facts.settings.reserve_minutes and facts.needing_holds:
        waiting = _hold_units(runtime, shopify, claim, facts)
        claim = replace(claim, notification_ids=[i for i in claim.notification_ids if i not in waiting])
    return claim


def _facts(session: Session, claim: Claim) -> BatchFacts | None:
    # Most shops offer neither codes nor held units: one row tells, before 1,000 rows are loaded.
    shop = session.scalar(select(Shop).join(Notification, Notification.shop_id == Shop.id)
                          .where(ids_in(session, Notification.id, claim.notification_ids), *held_by(claim.token),
                                 Notification.kind == "restock").limit(1))
    if shop is None or _no_offers(settings_for(shop)):
        return None
    rows = session.execute(
        select(Notification, RestockEvent, Shop)
        .join(RestockEvent, RestockEvent.id == Notification.restock_event_id)
        .join(Shop, Shop.id == Notification.shop_id)
        .where(Notification.id.in_(claim.notification_ids), *held_by(claim.token), Notification.kind == "restock")
    ).all()
    if not rows:
        return None
    _, event, shop = rows[0]
    settings = settings_for(shop)
    if _no_offers(settings):
        return None
    variant = find_variant(session, shop.id, event.variant_id)
    held = set(session.scalars(select(holds.Hold.notification_id)
                               .where(holds.Hold.notification_id.in_([n.id for n, _, _ in rows]))))
    return BatchFacts(shop.id, shop.domain, event.id, event.variant_id, variant.product_id if variant else None,
                      (variant.product_title if variant else None) or "", settings,
                      tuple(n.id for n, _, _ in rows if n.discount_code is None),
                      tuple(n.id for n, _, _ in rows if n.id not in held))


def _no_offers(settings) -> bool:
    return settings.discount_percent is None and settings.reserve_minutes is None


def ensure_primary_domain(db, shopify: ShopifyOffers, shop_id: int) -> None:
    """Read the storefront's primary domain once (links land there); a failure keeps the myshopify one."""
    with db.session() as session:
        if session.get(Shop, shop_id).primary_domain:
            return
    try:
        host = ((shopify.query("ShopPrimaryDomain").get("shop") or {}).get("primaryDomain") or {}).get("host")
    except OfferFailed as err:
        log.warning("primary_domain_unread", shop_id=shop_id, error=str(err)[:200])
        return
    if host:
        with db.session() as session:
            session.get(Shop, shop_id).primary_domain = host


def _give_codes(db, shopify: ShopifyOffers, claim: Claim, facts: BatchFacts, sleep) -> None:
    spec = DiscountSpec(shop_id=facts.shop_id, kind="restock", restock_event_id=facts.event_id,
                        product_ids=(facts.product_id,) if facts.product_id else (),
                        percent=facts.settings.discount_percent, title=f"Back in stock: {facts.product_title}",
                        ends_at=(utcnow() + timedelta(hours=facts.settings.discount_expires_hours)).replace(microsecond=0))
    codes, problem = [], None
    try:
        discount = ensure_discount(db, shopify, spec, sleep)
        codes, problem = add_codes(shopify, discount, len(facts.needing_codes), sleep)
    except OfferFailed as err:
        problem = str(err)
    with db.session() as session:
        for notification_id, code in zip(facts.needing_codes, codes):
            session.execute(update(Notification).where(Notification.id == notification_id, *held_by(claim.token))
                            .values(discount_code=code, expires_at=discount.ends_at))
        without = facts.needing_codes[len(codes):]
        _decide_each(session, without, facts, NO_CODE, problem)
    log.info("offer_codes", restock_event_id=facts.event_id, coded=len(codes), without=len(without))


def _hold_units(runtime, shopify: ShopifyOffers, claim: Claim, facts: BatchFacts) -> set[int]:
    """One draft order per notice; the ids of notices that must wait for a unit."""
    waiting = set()
    for notification_id in facts.needing_holds:
        with runtime.db.session() as session:
            notification = session.get(Notification, notification_id)
            event = session.get(RestockEvent, facts.event_id)
            hold = holds.start_hold(session, notification, event, facts.settings.reserve_minutes)
            hold_id, until = hold.id, hold.reserved_until
            draft_input = _draft_input(runtime, session, notification, facts, hold)
        try:
            payload = with_retries(lambda: shopify.mutate("DraftOrderCreate", {"input": draft_input}, "draftOrderCreate"))
        except OfferFailed as err:
            if "inventory" in str(err).lower():
                waiting.add(notification_id)
            _hold_failed(runtime.db, claim, facts, notification_id, hold_id, str(err), notification_id in waiting)
            continue
        draft = payload["draftOrder"]
        with runtime.db.session() as session:
            holds.activate_hold(session, hold_id, parse_gid(draft["id"], "DraftOrder"), draft["invoiceUrl"])
            session.execute(update(Notification).where(Notification.id == notification_id)
                            .values(expires_at=until))
    return waiting


def _draft_input(runtime, session: Session, notification: Notification, facts: BatchFacts, hold) -> dict:
    subscription = session.get(Subscription, notification.subscription_id)
    contact = session.get(Contact, subscription.contact_id)
    value = runtime.vault.decrypt(contact.value_ciphertext)
    draft = {"lineItems": [{"variantId": gid("ProductVariant", facts.variant_id), "quantity": 1}],
             "reserveInventoryUntil": hold.reserved_until.isoformat().replace("+00:00", "Z"),
             "customAttributes": [{"key": holds.HOLD_ATTRIBUTE, "value": str(hold.id)}],
             "tags": ["backbell"]}
    draft["email" if contact.channel == "email" else "phone"] = value
    if notification.discount_code:
        draft["discountCodes"] = [notification.discount_code]
    return draft


def _hold_failed(db, claim: Claim, facts: BatchFacts, notification_id: int, hold_id: int, error: str,
                 wait: bool) -> None:
    with db.session() as session:
        holds.fail_hold(session, hold_id, error)
        if wait:
            # Out of the batch; the shopper stays waiting and is next in line when a unit frees up.
            session.execute(update(Notification).where(Notification.id == notification_id, *held_by(claim.token))
                            .values(status=SKIPPED, error=EVERY_UNIT_HELD, claim_token=None, lease_until=None))
        _decide_each(session, (notification_id,), facts, EVERY_UNIT_HELD if wait else NO_HOLD, error)


def _decide_each(session: Session, notification_ids, facts: BatchFacts, decision: str, reason: str | None) -> None:
    if not notification_ids:
        return
    subscriptions = dict(session.execute(select(Notification.id, Notification.subscription_id)
                                         .where(Notification.id.in_(list(notification_ids)))).all())
    for notification_id in notification_ids:
        session.add(Decision(shop_id=facts.shop_id, decision=decision, variant_id=facts.variant_id,
                             subscription_id=subscriptions.get(notification_id), restock_event_id=facts.event_id,
                             notification_id=notification_id, detail={"reason": (reason or "")[:300]}))
