"""Restock detection: when does a change of stock become a restock event?

A restock is a *crossing*: the sellable quantity was below the shop's minimum (or unknown) and is
now at or above it. Each crossing creates at most one ``RestockEvent``; the caller commits and
only then enqueues ``dispatch_restock(event.id)``, so a worker never looks for an uncommitted row.

Every crossing leaves a ``Decision`` for the merchant's activity log, whether it alerts or not.
Updates that cross nothing are not logged: they are most webhooks and mean nothing to a merchant.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.dispatch.candidates import enrolled_count
from plugin.logging import get_logger
from plugin.models import Decision, RestockEvent, Shop, Variant
from plugin.offers.holds import has_active_holds
from plugin.shop_settings import settings_for

log = get_logger(__name__)

OPEN_EVENT_STATUSES = ("pending", "planned")


def detect_restock(previous: int | None, current: int, minimum: int) -> bool:
    """True when stock crosses from below ``minimum`` (or unknown) to at or above it."""
    return current >= minimum and (previous is None or previous < minimum)


def record_restock(
    session: Session, shop: Shop, variant: Variant, new_available: int, source: str
) -> RestockEvent | None:
    """Store ``new_available`` on the variant and create one event if that is a restock worth telling.

    The variant row is locked for the rest of the transaction, so two deliveries for the same
    variant cannot both see the old quantity and both declare the crossing.
    """
    variant = lock_variant(session, variant.id)
    previous, variant.available = variant.available, new_available
    if not detect_restock(previous, new_available, settings_for(shop).restock_minimum):
        return None
    reason = _reason_not_to_alert(session, shop, variant, crossing=previous is not None)
    if reason:
        _decide(session, shop, variant, f"skipped: {reason}", previous=previous, available=new_available)
        log.info("restock_skipped", shop_id=shop.id, variant_id=variant.variant_id, reason=reason, source=source)
        return None
    return _create_event(session, shop, variant, previous, new_available, source)


def record_in_stock_for_waiting(session: Session, shop: Shop, variant: Variant, source: str) -> RestockEvent | None:
    """A restock event for shoppers who started waiting while the variant was already in stock.

    That shopper subscribed a moment before the stock came back (or the storefront was stale):
    no crossing will ever come for them, so a sync that finds the variant in stock with waiting
    shoppers and no event in progress treats it as a restock. The cool-down does not apply: it
    protects shoppers from repeated alerts, and these shoppers have had none.
    """
    variant = lock_variant(session, variant.id)
    if variant.available is None or variant.available < settings_for(shop).restock_minimum:
        return None
    if not variant.can_alert or _waiting_count(session, shop, variant) == 0:
        return None
    if _has_open_event(session, shop, variant) or has_active_holds(session, shop.id, variant.variant_id):
        return None  # (held units pass to the waiting shoppers one by one: plugin.offers.holds)
    return _create_event(session, shop, variant, None, variant.available, source)


_LOCK_VARIANT = (select(Variant).where(Variant.id == bindparam("variant_pk")).with_for_update()
                 .execution_options(populate_existing=True))


def lock_variant(session: Session, variant_pk: int) -> Variant:
    """The variant re-read under ``SELECT … FOR UPDATE`` (a no-op lock on SQLite, which serialises writes).

    Locked once per transaction: after that, the row changes only through this session (on SQLite
    the transaction reads one snapshot), so a second call — the webhook's path locks before it
    settles the variant, and recording the restock locks again for its other callers — returns
    the object it already holds instead of asking again.
    """
    held = session.info.get("locked_variants")
    transaction = session.get_transaction()  # None until the session's first statement
    if transaction is not None and held is not None and held[0] is transaction and variant_pk in held[1]:
        return held[1][variant_pk]
    variant = session.execute(_LOCK_VARIANT, {"variant_pk": variant_pk}).scalar_one()
    transaction = session.get_transaction()
    if held is None or held[0] is not transaction:
        held = session.info["locked_variants"] = (transaction, {})
    held[1][variant_pk] = variant
    return variant


def _reason_not_to_alert(session: Session, shop: Shop, variant: Variant, crossing: bool) -> str | None:
    if variant.inventory_policy != "DENY":
        return "backorder allowed"
    if not variant.tracked:
        return "inventory not tracked"
    if variant.product_status != "ACTIVE":
        return f"product {variant.product_status.lower()}"
    cooldown = timedelta(minutes=settings_for(shop).cooldown_minutes)
    if variant.last_restock_at is not None and utcnow() - variant.last_restock_at < cooldown:
        return "cool-down"
    # Neither count reads the variant: its changes wait for the event's flush (one UPDATE, not two).
    with session.no_autoflush:
        # Shoppers told at an earlier restock who did not buy count too (plugin.dispatch.candidates).
        if enrolled_count(session, shop.id, variant.variant_id, crossing, utcnow()) == 0:
            return "nobody waiting"
        if has_active_holds(session, shop.id, variant.variant_id):  # offers hook: the queue of held units goes on
            return "units held for earlier shoppers"
    return None


def _create_event(
    session: Session, shop: Shop, variant: Variant, previous: int | None, available: int, source: str
) -> RestockEvent:
    event = RestockEvent(
        shop_id=shop.id, variant_id=variant.variant_id, previous_available=previous, available=available, source=source
    )
    variant.last_restock_at = utcnow()
    session.add(event)
    session.flush()
    _decide(session, shop, variant, "restock_detected", previous=previous, available=available, source=source,
            restock_event_id=event.id)
    log.info("restock_detected", shop_id=shop.id, variant_id=variant.variant_id, restock_event_id=event.id,
             previous=previous, available=available, source=source)
    return event


def _waiting_count(session: Session, shop: Shop, variant: Variant) -> int:
    """Shoppers waiting (and confirmed, under double opt-in) for the variant."""
    return enrolled_count(session, shop.id, variant.variant_id, crossing=False, now=utcnow())


def _has_open_event(session: Session, shop: Shop, variant: Variant) -> bool:
    query = select(RestockEvent.id).where(
        RestockEvent.shop_id == shop.id,
        RestockEvent.variant_id == variant.variant_id,
        RestockEvent.status.in_(OPEN_EVENT_STATUSES),
    )
    return session.execute(query.limit(1)).first() is not None


def _decide(session: Session, shop: Shop, variant: Variant, decision: str, restock_event_id: int | None = None,
            **detail) -> None:
    session.add(Decision(shop_id=shop.id, decision=decision, variant_id=variant.variant_id,
                         restock_event_id=restock_event_id, detail=detail))
