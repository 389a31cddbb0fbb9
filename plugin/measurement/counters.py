"""Per-shop daily counters that outlive the rows they count.

Retention (``plugin.privacy.retention``) deletes old notices; before it does, it rolls them up
here in the same transaction, so ``counted(...)`` over the live rows plus these counters gives the
same number before and after pruning.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from plugin.db import insert_for
from plugin.models import FAILED, SENT, SKIPPED, UNCERTAIN, DailyCount, Notification

# counter name → which notices it counts
NOTIFICATION_COUNTERS = {
    "notifications_sent": Notification.status == SENT,
    "notifications_failed": Notification.status == FAILED,
    "notifications_skipped": Notification.status == SKIPPED,
    "notifications_uncertain": Notification.status == UNCERTAIN,
    "notifications_clicked": Notification.clicked_at.is_not(None),
}


def utc_day(session: Session, column):
    """The UTC calendar day of a timestamp column, on PostgreSQL and SQLite alike."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text


def roll_up_notifications(session: Session, notification_ids: list[int]) -> int:
    """Add these notices to the daily counters (call in the transaction that deletes them)."""
    if not notification_ids:
        return 0
    day = utc_day(session, Notification.created_at)
    sums = [func.sum(case((condition, 1), else_=0)) for condition in NOTIFICATION_COUNTERS.values()]
    rows = session.execute(
        select(Notification.shop_id, day, *sums).where(Notification.id.in_(notification_ids))
        .group_by(Notification.shop_id, day)
    ).all()
    for shop_id, on, *counts in rows:
        for name, count in zip(NOTIFICATION_COUNTERS, counts):
            if count:
                add(session, shop_id, _as_date(on), name, int(count))
    return len(rows)


def add(session: Session, shop_id: int, on: date, name: str, count: int) -> None:
    insert = insert_for(session)(DailyCount).values(shop_id=shop_id, day=on, name=name, count=count)
    session.execute(insert.on_conflict_do_update(
        index_elements=["shop_id", "day", "name"], set_={"count": DailyCount.count + insert.excluded.count}))


def counted(session: Session, shop_id: int, name: str) -> int:
    """The rolled-up total of counter ``name`` for a shop (0 when nothing was pruned yet)."""
    total = session.scalar(select(func.sum(DailyCount.count)).where(DailyCount.shop_id == shop_id,
                                                                     DailyCount.name == name))
    return int(total or 0)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
