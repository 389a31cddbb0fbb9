"""Reminders: one follow-up, ``reminder_hours`` after a restock notice, to a shopper who has not
bought the variant since, while it is still in stock and on sale.

A sent restock notice carries when its reminder is due (``remind_at``, set when it was sent).
The release job groups the due notices by shop and variant, re-reads those variants through the
Admin API (nothing locked meanwhile), and decides per shopper: a ``reminder`` notice (unique per
notice's restock, like every notice), or a decision-log line saying why not (bought, sold out,
unsubscribed, reminders switched off). The message says "only N left" when stock is low.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.dispatch.quiet_hours import held_decision, quiet_until
from plugin.dispatch.stock import StockNow
from plugin.models import (
    NOTIFIED, PENDING, REMINDER, Attribution, Decision, Notification, Shop, Subscription,
)
from plugin.shop_settings import settings_for


def due_reminder_variants(session: Session, now: datetime) -> dict[int, list[int]]:
    """Shop id → variant ids with a reminder due."""
    rows = session.execute(
        select(Notification.shop_id, Subscription.variant_id)
        .join(Subscription, Subscription.id == Notification.subscription_id)
        .where(Notification.remind_at <= now).distinct())
    variants: dict[int, list[int]] = defaultdict(list)
    for shop_id, variant_id in rows:
        variants[shop_id].append(variant_id)
    return {shop_id: sorted(ids) for shop_id, ids in variants.items()}


def plan_reminders(session: Session, shop: Shop, variant_id: int, stock: StockNow,
                   now: datetime) -> set[tuple[int, str]]:
    """Decide every reminder of ``variant_id`` due by ``now``; the send chains to start."""
    due = session.execute(
        select(Notification, Subscription).join(Subscription, Subscription.id == Notification.subscription_id)
        .where(Notification.shop_id == shop.id, Subscription.variant_id == variant_id, Notification.remind_at <= now)
        .order_by(Notification.id).with_for_update(of=Notification)).all()
    if not due:
        return set()
    settings = settings_for(shop)
    bought = _bought(session, [subscription.id for _, subscription in due])
    held = quiet_until(now, shop.timezone, settings)
    reminders, decisions = [], []
    for notice, subscription in due:
        notice.remind_at = None
        reason = _no_reminder(subscription, stock, settings.reminder_hours, subscription.id in bought)
        if reason:
            decisions.append(_decision(notice, subscription, reason, now))
            continue
        reminders.append({"shop_id": shop.id, "subscription_id": subscription.id,
                          "restock_event_id": notice.restock_event_id, "channel": notice.channel, "kind": REMINDER,
                          "status": PENDING, "attempts": 0, "created_at": now, "due_at": held})
        if held is not None:
            decisions.append(_decision(notice, subscription, held_decision(held, shop.timezone), now))
    if reminders:
        session.execute(insert_for(session)(Notification).on_conflict_do_nothing(), reminders)
    if decisions:
        session.execute(insert(Decision), decisions)
    if held is not None:
        return set()
    return {(row["restock_event_id"], row["channel"]) for row in reminders}


def _no_reminder(subscription: Subscription, stock: StockNow, reminder_hours: int | None,
                 bought: bool) -> str | None:
    if reminder_hours is None:
        return "no reminder: reminders switched off"
    if subscription.status != NOTIFIED:
        return f"no reminder: {subscription.status}"
    if bought:
        return "no reminder: bought"
    if not stock.sellable:
        return "no reminder: sold out or not on sale"
    return None


def _bought(session: Session, subscription_ids: list[int]) -> set[int]:
    """Subscriptions with a purchase attributed to one of their notices (not cancelled)."""
    return set(session.scalars(
        select(Notification.subscription_id).join(Attribution, Attribution.notification_id == Notification.id)
        .where(Notification.subscription_id.in_(subscription_ids), Attribution.cancelled_at.is_(None))))


def _decision(notice: Notification, subscription: Subscription, decision: str, now: datetime) -> dict:
    return {"shop_id": notice.shop_id, "decision": decision, "variant_id": subscription.variant_id,
            "subscription_id": subscription.id, "restock_event_id": notice.restock_event_id,
            "notification_id": notice.id, "detail": {"kind": REMINDER}, "created_at": now}
