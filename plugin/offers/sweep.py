"""The beat's offers sweep: holds past their end are settled (paid → used; unused → deleted in
Shopify, and the unit passes to the next shopper in line), discounts past their end are
deactivated, and pending apologies are sent. Each Shopify call happens outside any transaction; each result is its own commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.logging import get_logger
from plugin.models import (
    HOLD_EXPIRED, HOLD_USED, PENDING, SENDING, SENT, SKIPPED, WAITING, Decision, Hold, Notification, RestockEvent,
    Shop, Subscription,
)
from plugin.offers import holds
from plugin.offers.apology import send_pending_apologies
from plugin.offers.discounts import deactivate_expired
from plugin.offers.shopify_calls import OfferFailed, ShopifyOffers, with_retries
from plugin.shopify.gids import gid, parse_gid

log = get_logger(__name__)

UNIT_PASSED = "hold expired: unit passed to the next in line"


def sweep(runtime) -> dict:
    """Settle due holds and deactivate ended discounts; the (event, channel) send chains to start."""
    chains = settle_due_holds(runtime)
    deactivated = deactivate_expired(runtime.db, lambda shop_id: ShopifyOffers(runtime, _domain(runtime.db, shop_id)))
    apologies = send_pending_apologies(runtime)
    return {"chains": chains, "deactivated": deactivated, "apologies": apologies}


def _domain(db, shop_id: int) -> str:
    with db.session() as session:
        return session.get(Shop, shop_id).domain


def settle_due_holds(runtime) -> list[tuple[int, str]]:
    with runtime.db.session() as session:
        due = [(h.id, h.shop_id, h.draft_order_id) for h in holds.due_holds(session)]
    chains: list[tuple[int, str]] = []
    for hold_id, shop_id, draft_order_id in due:
        shopify = ShopifyOffers(runtime, _domain(runtime.db, shop_id))
        try:
            chains += _settle(runtime.db, shopify, hold_id, draft_order_id)
        except OfferFailed as err:  # tried again at the next sweep
            log.warning("hold_release_failed", hold_id=hold_id, error=str(err)[:200])
    return sorted(set(chains))


def _settle(db, shopify: ShopifyOffers, hold_id: int, draft_order_id: int) -> list[tuple[int, str]]:
    draft_gid = gid("DraftOrder", draft_order_id)
    # The webhook of a checkout made in the last minute may still be on its way: ask Shopify.
    draft = with_retries(lambda: shopify.query("DraftOrderStatus", {"id": draft_gid})).get("draftOrder")
    if draft and draft.get("status") == "COMPLETED":
        order = draft.get("order") or {}
        with db.session() as session:
            holds.end_hold(session, hold_id, HOLD_USED, parse_gid(order["id"], "Order") if order.get("id") else None)
        return []
    if draft:
        with_retries(lambda: shopify.mutate("DraftOrderDelete", {"input": {"id": draft_gid}}, "draftOrderDelete"))
    with db.session() as session:
        hold = holds.end_hold(session, hold_id, HOLD_EXPIRED)
        return pass_unit(session, hold) if hold else []


def pass_unit(session: Session, hold: Hold) -> list[tuple[int, str]]:
    """The next waiting shopper of the hold's restock gets a notice (and, when it is sent, a hold)."""
    event = session.get(RestockEvent, hold.restock_event_id)
    told = select(Notification.id).where(Notification.restock_event_id == event.id,
                                         Notification.subscription_id == Subscription.id,
                                         Notification.status.in_((PENDING, SENDING, SENT)))
    nxt = session.scalar(select(Subscription).where(
        Subscription.shop_id == event.shop_id, Subscription.variant_id == event.variant_id,
        Subscription.status == WAITING, Subscription.confirm_by.is_(None), ~told.exists()).order_by(Subscription.id).limit(1))
    session.add(Decision(shop_id=hold.shop_id, decision=UNIT_PASSED, variant_id=hold.variant_id,
                         subscription_id=hold.subscription_id, restock_event_id=event.id,
                         detail={"next_subscription_id": nxt.id if nxt else None}))
    if nxt is None:
        return []
    _queue_notice(session, event, nxt)
    event.status, event.finished_at = "planned", None  # the same restock goes on
    log.info("hold_unit_passed", restock_event_id=event.id, hold_id=hold.id)
    return [(event.id, nxt.channel)]


def _queue_notice(session: Session, event: RestockEvent, subscription: Subscription) -> None:
    existing = session.scalar(select(Notification).where(
        Notification.subscription_id == subscription.id, Notification.restock_event_id == event.id,
        Notification.channel == subscription.channel, Notification.kind == "restock"))
    if existing is not None:  # skipped earlier while every unit was held: back in line
        if existing.status == SKIPPED:
            existing.status, existing.error = PENDING, None
        return
    session.execute(insert_for(session)(Notification).values(
        shop_id=event.shop_id, subscription_id=subscription.id, restock_event_id=event.id,
        channel=subscription.channel, kind="restock", status=PENDING, attempts=0).on_conflict_do_nothing())
