"""Held units: with ``reserve_minutes`` set, a restock becomes a queue.

Each of the first shoppers (one per unit, in the dispatcher's order) gets one unit held in a draft
order (``draftOrderCreate`` with ``reserveInventoryUntil``, their email or phone, their code) and a
notice saying until when, with the draft order's checkout link. Nobody else is told while every
unit is held. The beat's offers sweep looks at holds past their end: one the shopper paid for is
``used``; one unused is deleted (``draftOrderDelete``) and its unit passes to the next shopper in
line — a new notice of the *same* restock event.

Holds move Shopify's ``available`` (down when held, up when released). So the mirror counts the
units held for our shoppers back into the sellable quantity (``held_units_row``) and restock detection
declares nothing for a variant with holds in progress (``has_active_holds``): no alert loop can
start from our own reservations. A hold row is committed as ``pending`` *before* Shopify reserves
the unit, so the inventory webhook that follows always finds it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger, bindparam, func, null, select, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import UTCDateTime
from plugin.logging import get_logger
from plugin.models import (
    HOLD_USED, OFFER_ACTIVE, OFFER_FAILED, OFFER_PENDING, Hold, Variant,
)

log = get_logger(__name__)

HOLDING = (OFFER_PENDING, OFFER_ACTIVE)
# The draft order's custom attribute naming its hold; Shopify copies it onto the order.
HOLD_ATTRIBUTE = "backbell_hold"


def held_units_row(shop_id, inventory_item_id):
    """SELECT NULL, <units held for our shoppers>, NULL: the pending or active holds of the item's
    variants, as one more row of ``plugin.inventory.mirror``'s levels (location, available, stamp)."""
    return (select(null().cast(BigInteger), func.count(Hold.id), null().cast(UTCDateTime()))
            .select_from(Hold)
            .join(Variant, (Variant.shop_id == Hold.shop_id) & (Variant.variant_id == Hold.variant_id))
            .where(Hold.shop_id == shop_id, Variant.inventory_item_id == inventory_item_id, Hold.status.in_(HOLDING)))


# Asked on every restock detected: built once, with bound parameters.
_ACTIVE_HOLD = (select(Hold.id).where(Hold.shop_id == bindparam("shop_id"), Hold.variant_id == bindparam("variant_id"),
                                      Hold.status.in_(HOLDING)).limit(1))


def has_active_holds(session: Session, shop_id: int, variant_id: int) -> bool:
    return session.scalar(_ACTIVE_HOLD, {"shop_id": shop_id, "variant_id": variant_id}) is not None


def start_hold(session: Session, notification, event, reserve_minutes: int) -> Hold:
    """The pending hold row for a notice (committed by the caller before Shopify is asked)."""
    hold = Hold(shop_id=notification.shop_id, restock_event_id=event.id, subscription_id=notification.subscription_id,
                notification_id=notification.id, variant_id=event.variant_id, status=OFFER_PENDING,
                reserved_until=(utcnow() + timedelta(minutes=reserve_minutes)).replace(microsecond=0))
    session.add(hold)
    session.flush()
    return hold


def activate_hold(session: Session, hold_id: int, draft_order_id: int, invoice_url: str) -> None:
    session.execute(update(Hold).where(Hold.id == hold_id)
                    .values(status=OFFER_ACTIVE, draft_order_id=draft_order_id, invoice_url=invoice_url))


def fail_hold(session: Session, hold_id: int, error: str) -> None:
    session.execute(update(Hold).where(Hold.id == hold_id)
                    .values(status=OFFER_FAILED, error=error[:300], ended_at=utcnow()))


def due_holds(session: Session, limit: int = 100) -> list[Hold]:
    """Active holds whose time is up, oldest first."""
    return list(session.scalars(select(Hold).where(Hold.status == OFFER_ACTIVE, Hold.reserved_until <= utcnow())
                                .order_by(Hold.reserved_until).limit(limit)))


def end_hold(session: Session, hold_id: int, status: str, order_id: int | None = None) -> Hold | None:
    """used | expired; None when the hold had already ended (a repeated webhook, a racing sweep)."""
    hold = session.scalar(select(Hold).where(Hold.id == hold_id, Hold.status.in_(HOLDING)).with_for_update())
    if hold is None:
        return None
    hold.status, hold.ended_at, hold.order_id = status, utcnow(), order_id
    log.info("hold_ended", hold_id=hold.id, shop_id=hold.shop_id, status=status)
    return hold


def record_checkout(session: Session, shop_id: int, order: dict) -> Hold | None:
    """``orders/create``: an order from a held draft (its ``backbell_hold`` attribute) uses the hold."""
    hold_id = _hold_attribute(order)
    if hold_id is None:
        return None
    hold = session.get(Hold, hold_id)
    if hold is None or hold.shop_id != shop_id:
        return None
    order_id = order.get("id") if isinstance(order.get("id"), int) else None
    return end_hold(session, hold_id, HOLD_USED, order_id)


def _hold_attribute(order: dict) -> int | None:
    for attribute in order.get("note_attributes") or []:
        if isinstance(attribute, dict) and attribute.get("name") == HOLD_ATTRIBUTE:
            value = str(attribute.get("value") or "")
            return int(value) if value.isdigit() else None
    return None

