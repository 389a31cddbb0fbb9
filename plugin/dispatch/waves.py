"""Batches by stock ("waves"): tell as many shoppers as the units back are worth, then wait.

A wave is one set-based ``INSERT … SELECT`` of pending notices in policy order
(``plugin.dispatch.policy``), at most ``batch_per_unit`` × the stock. When shoppers are left, the
restock event stores when the next wave is due (``next_wave_at``, ``batch_interval_minutes``
after this wave goes out); the release job (``plugin.dispatch.due``) re-reads the variant then
and plans the next wave sized by the stock *now* — or, sold out again, leaves the rest waiting
in their places for the next restock. Nothing sleeps and nothing is counted down in a broker:
the due time is a column, so the embedded default's in-process scheduler and Celery beat drive
the same code.

Inside quiet hours a wave is planned with ``due_at`` at the window's end (held); frequency-capped
shoppers get a ``skipped`` row for this restock and keep waiting for the next one; shoppers told
``max_alerts_per_subscription`` times without buying are closed first (``plugin.dispatch.alert_cap``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from plugin.db import UTCDateTime, insert_for
from plugin.dispatch.alert_cap import close_exhausted
from plugin.dispatch.candidates import candidates, frequency_capped, is_vip, told_before
from plugin.dispatch.policy import policy_for
from plugin.dispatch.quiet_hours import held_decision, quiet_until
from plugin.logging import get_logger
from plugin.models import (
    PENDING, RESTOCK, SKIPPED, Decision, Notification, RestockEvent, Shop, Subscription,
)
from plugin.shop_settings import settings_for

log = get_logger(__name__)

FREQUENCY_CAPPED = "skipped: frequency cap (keeps waiting)"
COLUMNS = ["shop_id", "subscription_id", "restock_event_id", "channel", "kind", "status", "attempts", "created_at",
           "due_at", "error"]


@dataclass(frozen=True)
class Wave:
    planned: int
    capped: int
    held_until: datetime | None
    left: int  # candidates still waiting for a later wave


def plan_wave(session: Session, event: RestockEvent, shop: Shop, stock: int, now: datetime) -> Wave:
    """Plan the next wave of ``event`` for ``stock`` units and set when the one after is due."""
    settings = settings_for(shop)
    policy = policy_for(settings)
    close_exhausted(session, event, now, settings.max_alerts_per_subscription)
    capped = _skip_capped(session, event, now, settings.frequency_cap_hours)
    held_until = quiet_until(now, shop.timezone, settings)
    size = policy.batch_size(stock)
    order = policy.order_by(told_before(event), is_vip(policy.vip_tags))
    query = candidates(event, *_row_values(event, PENDING, now, held_until)).order_by(*order)
    if size is not None:
        query = query.limit(size)
    result = session.execute(insert_for(session)(Notification).from_select(COLUMNS, query).on_conflict_do_nothing(),
                             execution_options={"preserve_rowcount": True})
    planned = max(result.rowcount, 0)
    if held_until is not None and planned:
        _log_wave(session, event, now, held_decision(held_until, shop.timezone), {"until": held_until.isoformat()})
    left = _count_left(session, event) if size is not None and planned >= size else 0
    interval = timedelta(minutes=settings.batch_interval_minutes)
    event.next_wave_at = (held_until or now) + interval if left else None
    log.info("restock_wave_planned", restock_event_id=event.id, shop_id=event.shop_id, notices=planned,
             capped=capped, left=left, held=held_until is not None, policy=policy.name)
    return Wave(planned, capped, held_until, left)


def _row_values(event: RestockEvent, status: str, now: datetime, due_at: datetime | None, error: str | None = None):
    return (Subscription.shop_id, Subscription.id, literal(event.id), Subscription.channel, literal(RESTOCK),
            literal(status), literal(0), literal(now, UTCDateTime()), literal(due_at, UTCDateTime()),
            literal(error))


def _skip_capped(session: Session, event: RestockEvent, now: datetime, cap_hours: int | None) -> int:
    capped = frequency_capped(event.id, now, cap_hours)
    if capped is None:
        return 0
    query = candidates(event, *_row_values(event, SKIPPED, now, None, "frequency cap")).where(capped)
    result = session.execute(insert_for(session)(Notification).from_select(COLUMNS, query).on_conflict_do_nothing(),
                             execution_options={"preserve_rowcount": True})
    count = max(result.rowcount, 0)
    if count:
        _log_wave(session, event, now, FREQUENCY_CAPPED, {"cap_hours": cap_hours}, status=SKIPPED)
    return count


def _log_wave(session: Session, event: RestockEvent, now: datetime, decision: str, detail: dict,
              status: str = PENDING) -> None:
    """One decision per notice this wave wrote with ``status`` (they share ``created_at``)."""
    session.execute(insert(Decision).from_select(
        ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "notification_id", "detail",
         "created_at"],
        select(Notification.shop_id, literal(decision), literal(event.variant_id), Notification.subscription_id,
               Notification.restock_event_id, Notification.id, literal(detail, Decision.detail.type),
               literal(now, UTCDateTime()))
        .where(Notification.restock_event_id == event.id, Notification.kind == RESTOCK,
               Notification.status == status, Notification.created_at == now)
        .order_by(Notification.id)))


def _count_left(session: Session, event: RestockEvent) -> int:
    return session.scalar(candidates(event, func.count(Subscription.id))) or 0


def keep_places(session: Session, event: RestockEvent, reason: str, now: datetime) -> int:
    """Nobody more is told for this restock: one decision per candidate still unplanned, who
    keeps waiting in their place for the next one."""
    result = session.execute(insert(Decision).from_select(
        ["shop_id", "decision", "variant_id", "subscription_id", "restock_event_id", "created_at"],
        candidates(event, Subscription.shop_id, literal(reason), Subscription.variant_id, Subscription.id,
                   literal(event.id), literal(now, UTCDateTime()))
        .order_by(Subscription.id)), execution_options={"preserve_rowcount": True})
    event.next_wave_at = None
    return max(result.rowcount, 0)
