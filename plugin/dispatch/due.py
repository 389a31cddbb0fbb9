"""The release job: everything whose time has come, run every minute by the one job table
(Celery beat in production, ``backbell serve``'s in-process scheduler on the embedded default).

Every delay of a release is a due time stored on a row, never a sleep or a broker countdown:

- held notices (quiet hours): ``notifications.due_at`` — cleared here, then a send chain starts;
- the next batch of a restock: ``restock_events.next_wave_at`` — the variant is re-read first;
- ETA announcements: ``variants.eta_due_at``;
- reminders: ``notifications.remind_at`` of sent restock notices — variants re-read first;
- double opt-in deadlines: ``subscriptions.confirm_by``.

Each step commits on its own and is safe to run twice or concurrently (a conditional update or a
row lock decides who does the work; unique keys stop a second notice). The job only *plans*;
sending is queued (``plugin.dispatch.tasks``) once the plan is committed. A step that fails —
Shopify busy, say — is logged and tried again on the next run; the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.dispatch.confirmation import expire_unconfirmed
from plugin.dispatch.eta import announce_due_etas
from plugin.dispatch.plan import SOLD_OUT_AGAIN, channels_with_pending, finish_if_done
from plugin.dispatch.reminders import due_reminder_variants, plan_reminders
from plugin.dispatch.stock import StockNow, apply_stock, read_stock
from plugin.dispatch.vip import log_unreadable, refresh_customer_tags
from plugin.dispatch.waves import keep_places, plan_wave
from plugin.logging import get_logger
from plugin.models import PENDING, Notification, RestockEvent, Shop
from plugin.shopify.admin_api import AdminApiError

log = get_logger(__name__)

NOT_ON_SALE = StockNow(variant=None, quantity=None, sellable=False, new_restock=None)


@dataclass
class DueWork:
    """What the job leaves for workers once its plans are committed."""

    chains: set[tuple[int | None, str]] = field(default_factory=set)  # send chains to start
    restocks: list[int] = field(default_factory=list)  # new restock events to dispatch


def run_due_work(runtime, now: datetime) -> DueWork:
    work = DueWork()
    for step in (_expire, _release_held, _announce_etas, _advance_waves, _remind):
        try:
            step(runtime, now, work)
        except Exception as err:  # noqa: BLE001 — one failing step must not stop the others
            log.error("release_step_failed", step=step.__name__.lstrip("_"), error=type(err).__name__)
    return work


def _expire(runtime, now: datetime, work: DueWork) -> None:
    with runtime.db.session() as session:
        expire_unconfirmed(session, now)


def _release_held(runtime, now: datetime, work: DueWork) -> None:
    """Held notices whose quiet hours ended become sendable, in plan order (ids)."""
    with runtime.db.session() as session:
        released = session.execute(
            update(Notification).where(Notification.status == PENDING, Notification.due_at <= now)
            .values(due_at=None).returning(Notification.restock_event_id, Notification.channel)).all()
    work.chains |= {(event_id, channel) for event_id, channel in released}
    if released:
        log.info("held_notices_released", notices=len(released))


def _announce_etas(runtime, now: datetime, work: DueWork) -> None:
    with runtime.db.session() as session:
        work.chains |= announce_due_etas(session, now)


def _advance_waves(runtime, now: datetime, work: DueWork) -> None:
    with runtime.db.session() as session:
        due = list(session.scalars(select(RestockEvent.id).where(
            RestockEvent.next_wave_at <= now, RestockEvent.status == "planned").order_by(RestockEvent.id)))
    for event_id in due:
        try:
            advance_wave(runtime, event_id, now, work)
        except AdminApiError as err:
            log.warning("restock_wave_deferred", restock_event_id=event_id, error=err.message)


def advance_wave(runtime, event_id: int, now: datetime, work: DueWork) -> None:
    """Re-read the variant, then plan the next batch sized by the stock now — or, sold out
    again, leave the rest waiting in their places."""
    with runtime.db.session() as session:
        event = session.get(RestockEvent, event_id)
        shop = session.get(Shop, event.shop_id) if event else None
        if shop is None:
            return  # purged meanwhile
        read = read_stock(runtime, session, shop, [event.variant_id]) if shop.active else None
    unreadable = refresh_customer_tags(runtime, event_id) if read is not None else []
    with runtime.db.session() as session:
        event = _lock_due_event(session, event_id, now)
        if event is None:
            return  # another run planned this wave
        shop = session.get(Shop, event.shop_id)
        stock = apply_stock(session, shop, read, event.variant_id) if read is not None else None
        if stock is None or not stock.sellable or stock.new_restock is not None:
            _end_waves(session, event, stock, now, work)
            return
        log_unreadable(session, event, unreadable)
        plan_wave(session, event, shop, stock.quantity, now)
        channels = channels_with_pending(session, event.id)
    work.chains |= {(event_id, channel) for channel in channels}


def _lock_due_event(session: Session, event_id: int, now: datetime) -> RestockEvent | None:
    query = select(RestockEvent).where(RestockEvent.id == event_id).with_for_update()
    event = session.execute(query.execution_options(populate_existing=True)).scalar_one()
    due = event.status == "planned" and event.next_wave_at is not None and event.next_wave_at <= now
    return event if due else None


def _end_waves(session: Session, event: RestockEvent, stock, now: datetime, work: DueWork) -> None:
    if stock is not None and stock.new_restock is not None:
        # Sold out and back since the last batch: the new restock tells the rest (in order).
        event.next_wave_at = None
        work.restocks.append(stock.new_restock.id)
        log.info("restock_waves_superseded", restock_event_id=event.id, by=stock.new_restock.id)
    else:
        kept = keep_places(session, event, SOLD_OUT_AGAIN if stock else "skipped: shop uninstalled", now)
        log.info("restock_waves_stopped", restock_event_id=event.id, keep_waiting=kept)
    session.flush()
    finish_if_done(session, event.id)


def _remind(runtime, now: datetime, work: DueWork) -> None:
    with runtime.db.session() as session:
        due = due_reminder_variants(session, now)
    for shop_id, variant_ids in due.items():
        try:
            _remind_shop(runtime, shop_id, variant_ids, now, work)
        except AdminApiError as err:
            log.warning("reminders_deferred", shop_id=shop_id, error=err.message)


def _remind_shop(runtime, shop_id: int, variant_ids: list[int], now: datetime, work: DueWork) -> None:
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        read = read_stock(runtime, session, shop, variant_ids) if shop.active else None
    for variant_id in variant_ids:
        with runtime.db.session() as session:
            shop = session.get(Shop, shop_id)
            stock = apply_stock(session, shop, read, variant_id) if read is not None else NOT_ON_SALE
            work.chains |= plan_reminders(session, shop, variant_id, stock, now)
            if stock.new_restock is not None:
                work.restocks.append(stock.new_restock.id)

