"""The offer a notice carries, in the shopper's words: "held for you until 14:30", "your code …
takes 10% off until Jan 4 14:30". Times are shown in the shop's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_skeleton
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.dispatch.messages.locales import normalise_locale
from plugin.dispatch.messages.restock import OfferText
from plugin.models import OFFER_ACTIVE, Discount, Hold, Notification, Shop


def offer_for(session: Session, shop: Shop, notification: Notification, locale: str) -> OfferText | None:
    """None for a notice without a code or a held unit (most notices: no query is made)."""
    if notification.discount_code is None and notification.expires_at is None:
        return None
    hold_until = session.scalar(select(Hold.reserved_until).where(Hold.notification_id == notification.id,
                                                                  Hold.status == OFFER_ACTIVE))
    percent, code_until = None, None
    if notification.discount_code and notification.restock_event_id is not None:
        discount = _discount(session, notification.restock_event_id)
        if discount is not None:
            percent, code_until = discount.percent, local_time(discount.ends_at, shop.timezone, locale, "MMMd")
    if hold_until is None and percent is None:
        return None
    held = local_time(hold_until, shop.timezone, locale) if hold_until else None
    return OfferText(percent=percent, code_until=code_until, held_until=held)


def _discount(session: Session, event_id: int) -> Discount | None:
    cache = session.info.setdefault("offer_discounts", {})
    if event_id not in cache:
        cache[event_id] = session.scalar(select(Discount).where(Discount.restock_event_id == event_id))
    return cache[event_id]


def local_time(moment: datetime, timezone: str, locale: str, date_skeleton: str = "") -> str:
    """``14:30`` (or ``Jan 4 14:30`` with a date skeleton) in the shop's zone and the shopper's language."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    babel_locale = normalise_locale(locale).replace("-", "_")
    time = format_skeleton("Hm", moment, tzinfo=zone, locale=babel_locale)
    if not date_skeleton:
        return time
    return f"{format_skeleton(date_skeleton, moment, tzinfo=zone, locale=babel_locale, fuzzy=True)} {time}"
