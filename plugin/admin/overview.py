"""Counts for the embedded admin's first screen.

Notices past retention are deleted (``plugin.privacy.retention``) after being rolled up into
``daily_counts``; every count of notices here is the live rows plus those counters.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.measurement.counters import counted
from plugin.models import SENT, WAITING, Notification, RestockEvent, Subscription


def shop_overview(session: Session, shop_id: int) -> dict[str, int]:
    """Waiting shoppers, restock events and notifications sent for one shop."""

    def count(model, *conditions) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id, *conditions))

    return {
        "waiting_subscriptions": count(Subscription, Subscription.status == WAITING),
        "restock_events": count(RestockEvent),
        "notifications_sent": count(Notification, Notification.status == SENT)
        + counted(session, shop_id, "notifications_sent"),
    }
