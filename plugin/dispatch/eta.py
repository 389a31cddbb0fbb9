"""ETA notices: the merchant sets the date a sold-out variant is expected back; waiting shoppers
hear it once per new date.

Setting a date stores it (the widget shows it at once) and, unless one is already due, makes an
announcement due an hour later: the release job then tells the waiting shoppers the date the
variant has *then*, so changes within that hour (a typo fixed, a date moved twice) make one
notice. Each shopper gets at most one ``eta`` notice per date (unique ``dedupe_key``
``eta:YYYY-MM-DD``), and none once the variant is back in stock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import insert, literal, select
from sqlalchemy.orm import Session

from plugin.db import UTCDateTime, insert_for
from plugin.dispatch.quiet_hours import held_decision, quiet_until
from plugin.logging import get_logger
from plugin.models import ETA, PENDING, WAITING, Decision, Notification, Shop, Subscription, Variant
from plugin.shop_settings import settings_for

log = get_logger(__name__)

MERGE_WINDOW = timedelta(hours=1)
COLUMNS = ["shop_id", "subscription_id", "channel", "kind", "status", "attempts", "created_at", "due_at",
           "dedupe_key"]


def set_expected_date(session: Session, variant: Variant, expected: date | None, now: datetime) -> bool:
    """Store the variant's expected date (None clears it); True when it changed."""
    new = datetime.combine(expected, time(0), tzinfo=timezone.utc) if expected else None
    if variant.expected_at == new:
        return False
    variant.expected_at = new
    if new is not None and variant.eta_due_at is None:
        variant.eta_due_at = now + MERGE_WINDOW
    session.add(Decision(shop_id=variant.shop_id, variant_id=variant.variant_id, created_at=now,
                         decision=f"expected date set: {expected.isoformat()}" if expected else "expected date cleared"))
    return True


def announce_due_etas(session: Session, now: datetime) -> set[tuple[None, str]]:
    """Plan the eta notices that came due; the send chains (no restock, channel) to start."""
    query = select(Variant).where(Variant.eta_due_at <= now).order_by(Variant.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    chains: set[tuple[None, str]] = set()
    for variant in session.scalars(query):
        variant.eta_due_at = None
        shop = session.get(Shop, variant.shop_id)
        if _worth_announcing(shop, variant):
            chains |= _announce(session, shop, variant, now)
    return chains


def _worth_announcing(shop: Shop, variant: Variant) -> bool:
    if not shop.active or variant.expected_at is None:
        return False
    return variant.available is None or variant.available < settings_for(shop).restock_minimum


def _announce(session: Session, shop: Shop, variant: Variant, now: datetime) -> set[tuple[None, str]]:
    key = f"eta:{variant.expected_at.date().isoformat()}"
    held = quiet_until(now, shop.timezone, settings_for(shop))
    waiting = (select(Subscription.shop_id, Subscription.id, Subscription.channel, literal(ETA), literal(PENDING),
                      literal(0), literal(now, UTCDateTime()), literal(held, UTCDateTime()), literal(key))
               .where(Subscription.shop_id == shop.id, Subscription.variant_id == variant.variant_id,
                      Subscription.status == WAITING, Subscription.confirm_by.is_(None))
               .order_by(Subscription.id))
    session.execute(insert_for(session)(Notification).from_select(COLUMNS, waiting).on_conflict_do_nothing())
    planned = (Notification.shop_id == shop.id, Notification.kind == ETA, Notification.dedupe_key == key,
               Notification.created_at == now)
    if held is not None:
        _log_held(session, variant, planned, held_decision(held, shop.timezone), now)
        return set()
    channels = session.scalars(select(Notification.channel).where(*planned).distinct())
    log.info("eta_announced", shop_id=shop.id, variant_id=variant.variant_id, held=held is not None)
    return {(None, channel) for channel in channels}


def _log_held(session: Session, variant: Variant, planned: tuple, decision: str, now: datetime) -> None:
    session.execute(insert(Decision).from_select(
        ["shop_id", "decision", "variant_id", "subscription_id", "notification_id", "created_at"],
        select(Notification.shop_id, literal(decision), literal(variant.variant_id), Notification.subscription_id,
               Notification.id, literal(now, UTCDateTime())).where(*planned).order_by(Notification.id)))
