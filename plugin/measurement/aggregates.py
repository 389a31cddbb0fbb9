"""The dashboard's counters, kept as things happen, so no dashboard call reads raw rows.

Every place that changes what the merchant counts calls one function here, in the transaction
that makes the change: a wait starts or ends, a restock notice is sent, delivered, opened or
clicked, an order is attributed or cancelled. The deltas collect on the session and are written
as a few upserts just before it commits (``shop_days``, ``variant_days``, ``variant_totals``,
``purchase_delays``; rows in a fixed order, so two transactions never lock them crosswise), and
are dropped if it rolls back. Counters land on the day of the shop's calendar the thing happened.

Retention deletes old notices, events and decisions, never counters: the numbers are the same
before and after pruning. A wait that starts or ends also marks the contact for the customer sync
(``plugin.measurement.customers``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.db import ids_in
from plugin.models import WAITING, Contact, PurchaseDelay, Shop, ShopDay, Subscription, VariantDay, VariantTotal

_PENDING = "backbell_aggregates"
_DUE = "backbell_sync_due"


def wait_started(session: Session, shop_id: int, variant_id: int, contact_id: int | None = None,
                 at: datetime | None = None) -> None:
    """A shopper started waiting for a variant (signed up, or re-enrolled)."""
    _add(session, shop_id, variant_id, at, subscribed=1)
    _mark_due(session, contact_id)


def wait_ended(session: Session, shop_id: int, variant_id: int, contact_id: int | None = None,
               at: datetime | None = None) -> None:
    """A waiting subscription stopped waiting (told, unsubscribed or deleted)."""
    _add(session, shop_id, variant_id, at, unwaited=1)
    _mark_due(session, contact_id)


def status_changed(session: Session, shop_id: int, variant_id: int, contact_id: int | None, old: str, new: str,
                   at: datetime | None = None) -> None:
    """Count a subscription's move into or out of ``waiting`` (other moves count nothing)."""
    if old == new:
        return
    if old == "waiting":
        wait_ended(session, shop_id, variant_id, contact_id, at)
    elif new == "waiting":
        wait_started(session, shop_id, variant_id, contact_id, at)


def notice_sent(session: Session, shop_id: int, variant_id: int, at: datetime | None = None) -> None:
    _add(session, shop_id, variant_id, at, told=1)


def restock_notices_sent(session: Session, shop_id: int, variant_id: int, told: int, stopped_waiting: list[int],
                         at: datetime | None = None) -> None:
    """``told`` restock notices of a variant sent at once (a batch); the subscriptions of
    ``stopped_waiting`` (contact ids) were waiting until now — the same counts as ``told`` calls of
    ``notice_sent`` and one ``status_changed(waiting → notified)`` per contact."""
    _add(session, shop_id, variant_id, at, told=told, unwaited=len(stopped_waiting))
    for contact_id in stopped_waiting:
        _mark_due(session, contact_id)


def notice_delivered(session: Session, shop_id: int, variant_id: int, at: datetime | None = None) -> None:
    _add(session, shop_id, variant_id, at, delivered=1)


def notice_opened(session: Session, shop_id: int, variant_id: int, at: datetime | None = None) -> None:
    _add(session, shop_id, variant_id, at, opened=1)


def notice_clicked(session: Session, shop_id: int, variant_id: int, at: datetime | None = None) -> None:
    _add(session, shop_id, variant_id, at, clicked=1)


def purchase(session: Session, shop_id: int, variant_id: int, purchased_at: datetime, revenue: Decimal,
             told_at: datetime | None, sign: int = 1) -> None:
    """An attributed purchase (``sign=-1``: a cancellation takes it back, on the same day)."""
    _add(session, shop_id, variant_id, purchased_at, purchased=sign, revenue=sign * revenue)
    if told_at is not None:
        minutes = delay_bucket(purchased_at - told_at)
        day = shop_day(session, shop_id, purchased_at)
        session.info.setdefault(_PENDING, _empty())["delays"][(shop_id, day, minutes)]["count"] += sign


def delay_bucket(delay) -> int:
    """Minutes to purchase, rounded down to a bucket: exact under an hour, quarter hours under
    two days, whole hours after that — a median good to the bucket, from a bounded histogram."""
    minutes = max(0, int(delay.total_seconds() // 60))
    if minutes < 60:
        return minutes
    if minutes < 48 * 60:
        return minutes - minutes % 15
    return minutes - minutes % 60


def shop_day(session: Session, shop_id: int, at: datetime | None) -> date:
    """The day of the shop's calendar (its IANA time zone) that ``at`` falls on."""
    cache = session.info.setdefault("backbell_shop_zones", {})
    if shop_id not in cache:
        shop = session.get(Shop, shop_id)
        cache[shop_id] = shop.timezone if shop is not None else "UTC"
    return calendar_day(cache[shop_id], at)


def calendar_day(timezone_name: str, at: datetime | None) -> date:
    """The day of the calendar of ``timezone_name`` (IANA; unknown names count as UTC) that ``at``
    (default now) falls on."""
    return (at or utcnow()).astimezone(_zone(timezone_name)).date()


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _empty() -> dict:
    return {"shop_days": defaultdict(Counter), "variant_days": defaultdict(Counter),
            "variant_totals": defaultdict(Counter), "delays": defaultdict(Counter)}


def _add(session: Session, shop_id: int, variant_id: int, at: datetime | None, **deltas) -> None:
    day = shop_day(session, shop_id, at)
    pending = session.info.setdefault(_PENDING, _empty())
    pending["shop_days"][(shop_id, day)].update(deltas)
    pending["variant_days"][(shop_id, variant_id, day)].update(deltas)
    totals = dict(deltas)
    totals["waiting"] = deltas.get("subscribed", 0) - deltas.get("unwaited", 0)
    pending["variant_totals"][(shop_id, variant_id)].update(totals)


def _mark_due(session: Session, contact_id: int | None) -> None:
    if contact_id is not None:
        session.info.setdefault(_DUE, set()).add(contact_id)


TABLES = (("shop_days", ShopDay, ("shop_id", "day")),
          ("variant_days", VariantDay, ("shop_id", "variant_id", "day")),
          ("variant_totals", VariantTotal, ("shop_id", "variant_id")),
          ("delays", PurchaseDelay, ("shop_id", "day", "minutes")))


def write_pending(session: Session) -> None:
    """Upsert the collected deltas (runs on its own just before commit; callable directly): one
    statement per table, its rows in key order."""
    pending = session.info.pop(_PENDING, None)
    due = session.info.pop(_DUE, None)
    if pending:
        dialect = session.get_bind().dialect.name
        for name, model, keys in TABLES:
            # (nonzero, not positive: waits end and cancellations take revenue back)
            rows = [(key, nonzero) for key, deltas in sorted(pending[name].items())
                    if (nonzero := {column: delta for column, delta in deltas.items() if delta})]
            if not rows:
                continue
            columns = tuple(sorted({column for _, deltas in rows for column in deltas}))
            session.execute(_upsert(dialect, model, keys, columns),
                            [{**dict(zip(keys, key)), **{c: deltas.get(c, 0) for c in columns}} for key, deltas in rows])
    if due:
        # Written even where already set: the row lock makes the customer sync's clear wait for this
        # commit (plugin.measurement.customers.claim_due_shoppers), so its read sees the change.
        session.execute(update(Contact).where(ids_in(session, Contact.id, sorted(due))).values(customer_sync_due=True))


@lru_cache(maxsize=256)
def _upsert(dialect: str, model, keys: tuple[str, ...], columns: tuple[str, ...]):
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET column = column + excluded.column``, built once
    per table and column set (building it, ``excluded`` included, cost more than running it)."""
    table = model.__table__
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + statement.excluded[name] for name in columns})


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_PENDING) or session.info.get(_DUE):
        write_pending(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_DUE, None)


def deleting_subscriptions(session: Session, subscription_ids: list[int]) -> None:
    """Call before deleting subscriptions: the waiting ones among them stop waiting (an unconfirmed
    one never counted as waiting)."""
    rows = session.execute(select(Subscription.shop_id, Subscription.variant_id, Subscription.contact_id)
                           .where(Subscription.id.in_(subscription_ids), Subscription.status == WAITING,
                                  Subscription.confirm_by.is_(None)))
    for shop_id, variant_id, contact_id in rows:
        wait_ended(session, shop_id, variant_id, contact_id)
