"""Double opt-in: a shopper of a shop that asks for it confirms by a signed link before waiting.

A new subscription gets ``confirm_by`` (7 days on) and one ``confirm`` notice (unique per
subscription); until the link is followed the subscription is never a candidate of a restock
(``plugin.dispatch.candidates``). The release job expires what was not confirmed in time, so the
shopper may sign up again.

An unconfirmed subscription is not waiting anywhere the merchant looks (the dashboard's counters,
the demand table, the widget's count): the counters learn of the wait at confirmation, so an
expiry has nothing to take back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.logging import get_logger
from plugin.measurement import aggregates
from plugin.models import CONFIRM, EXPIRED, PENDING, WAITING, Decision, Notification, Subscription

log = get_logger(__name__)

CONFIRM_WITHIN = timedelta(days=7)
EXPIRED_DECISION = "expired: not confirmed within 7 days"


def require_confirmation(session: Session, shop_id: int, subscription_id: int, channel: str, variant_id: int,
                         now: datetime) -> None:
    """Hold the new subscription until confirmed, and plan its ``confirm`` notice (sent at once)."""
    session.execute(update(Subscription).where(Subscription.id == subscription_id)
                    .values(confirm_by=now + CONFIRM_WITHIN))
    session.execute(insert_for(session)(Notification).values(
        shop_id=shop_id, subscription_id=subscription_id, restock_event_id=None, channel=channel, kind=CONFIRM,
        status=PENDING, attempts=0, created_at=now, dedupe_key=CONFIRM).on_conflict_do_nothing())
    session.add(Decision(shop_id=shop_id, decision="confirmation requested", variant_id=variant_id,
                         subscription_id=subscription_id, created_at=now))


def confirm_subscription(session: Session, subscription_id: int, now: datetime) -> Subscription | None:
    """Confirm a held subscription; None when there was nothing to confirm (unknown, done, expired)."""
    subscription = session.scalar(select(Subscription).where(Subscription.id == subscription_id)
                                  .with_for_update(of=Subscription))
    if subscription is None or subscription.confirm_by is None or subscription.status != WAITING:
        return None
    subscription.confirm_by, subscription.confirmed_at = None, now
    # The wait starts now: until this moment the shopper counted nowhere as waiting.
    aggregates.wait_started(session, subscription.shop_id, subscription.variant_id, subscription.contact_id, now)
    session.add(Decision(shop_id=subscription.shop_id, decision="confirmed", variant_id=subscription.variant_id,
                         subscription_id=subscription.id, created_at=now))
    log.info("subscription_confirmed", subscription_id=subscription.id, shop_id=subscription.shop_id)
    return subscription


def expire_unconfirmed(session: Session, now: datetime) -> int:
    """Subscriptions still unconfirmed at their deadline → ``expired`` (one decision each)."""
    expired = session.execute(
        update(Subscription).where(Subscription.confirm_by <= now, Subscription.status == WAITING)
        .values(status=EXPIRED, confirm_by=None)
        .returning(Subscription.id, Subscription.shop_id, Subscription.variant_id)).all()
    if expired:
        session.execute(insert(Decision), [
            {"shop_id": shop_id, "decision": EXPIRED_DECISION, "variant_id": variant_id,
             "subscription_id": subscription_id, "created_at": now}
            for subscription_id, shop_id, variant_id in expired])
        log.info("subscriptions_expired_unconfirmed", subscriptions=len(expired))
    return len(expired)
