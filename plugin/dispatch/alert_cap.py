"""The cap on re-enrolment: a shopper told at a restock who did not buy keeps their place for the
next one (``plugin.dispatch.candidates``) — but not for ever.

Each restock notice sent counts on its subscription (``alerts_sent``: notices are pruned after the
retention period, the count is not). When a restock is planned, the re-enrolled candidates already
told ``max_alerts_per_subscription`` times without buying are closed instead of told again, each
with a decision naming the limit. A purchase still ends the subscription as converted (it is no
candidate any more), and a shopper who signs up again starts a new subscription with a new count.
Closing a told subscription changes no counter: it stopped counting as waiting when it was told.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from plugin.db import UTCDateTime
from plugin.dispatch.candidates import candidates, told_before
from plugin.logging import get_logger
from plugin.models import CLOSED, NOTIFIED, Decision, RestockEvent, Subscription

log = get_logger(__name__)


def closed_decision(max_alerts: int) -> str:
    return f"closed: told {max_alerts} times without buying"


def close_exhausted(session: Session, event: RestockEvent, now: datetime, max_alerts: int | None) -> int:
    """Close the event's re-enrolled candidates told ``max_alerts`` times already; returns how many."""
    if max_alerts is None:
        return 0
    exhausted = (told_before(event), Subscription.alerts_sent >= max_alerts)
    ids = list(session.scalars(candidates(event, Subscription.id).where(*exhausted).order_by(Subscription.id)))
    if not ids:
        return 0
    decision = closed_decision(max_alerts)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        session.execute(insert(Decision).from_select(
            ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "detail", "created_at"],
            select(Subscription.shop_id, literal(decision), Subscription.variant_id, Subscription.id,
                   literal(event.id), literal({"limit": max_alerts}, Decision.detail.type),
                   literal(now, UTCDateTime()))
            .where(Subscription.id.in_(chunk)).order_by(Subscription.id)))
        session.execute(update(Subscription).where(Subscription.id.in_(chunk), Subscription.status == NOTIFIED)
                        .values(status=CLOSED))
    log.info("subscriptions_closed_alert_cap", restock_event_id=event.id, shop_id=event.shop_id,
             subscriptions=len(ids), limit=max_alerts)
    return len(ids)
