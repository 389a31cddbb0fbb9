"""The dashboard's numbers, read from the counters (``plugin.measurement.aggregates``) only.

A range is whole days of the shop's calendar, ``since`` to ``until`` inclusive; without them,
from the shop's first counted day to today. ``waiting`` is a level, not a flow: the shoppers
waiting at the end of ``until`` (today: waiting now). The other counts happened in the range.
Reading a year is summing 365 small rows, whatever the number of subscriptions or notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.measurement.aggregates import shop_day
from plugin.models import PurchaseDelay, RestockEvent, Shop, ShopDay

COUNTS = ("subscribed", "unwaited", "told", "delivered", "opened", "clicked", "purchased")


@dataclass(frozen=True)
class Range:
    since: date | None = None
    until: date | None = None


def overview(session: Session, shop: Shop, period: Range = Range()) -> dict:
    """The funnel, revenue, rates, median time to purchase and the daily trend of a range."""
    until = period.until or shop_day(session, shop.id, None)
    since = period.since or _first_day(session, shop.id) or until
    days = _days(session, shop.id, since, until)
    totals = {name: sum(getattr(d, name) for d in days.values()) for name in COUNTS}
    revenue = sum((d.revenue for d in days.values()), Decimal("0"))
    return {
        "since": since.isoformat(), "until": until.isoformat(),
        "waiting": _waiting_at(session, shop.id, until),
        "subscribed": totals["subscribed"],
        "notified": totals["told"],
        "delivered": totals["delivered"],
        "opened": totals["opened"],
        "clicked": totals["clicked"],
        "purchased": totals["purchased"],
        "revenue": money(revenue, shop.currency),
        "conversion_rate": rate(totals["purchased"], totals["told"]),
        "click_rate": rate(totals["clicked"], totals["told"]),
        "median_time_to_purchase_seconds": median_delay_seconds(session, shop.id, since, until),
        "trend": [_point(day, days.get(day)) for day in _each_day(since, until)],
    }


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(Decimal(amount).quantize(Decimal("0.01"))), "currency_code": currency}


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when nothing was told yet (no rate to speak of)."""
    return round(part / whole, 4) if whole else None


def median_delay_seconds(session: Session, shop_id: int, since: date, until: date) -> int | None:
    """The median minutes to purchase over the range, from the per-day histograms (to the bucket)."""
    buckets = session.execute(
        select(PurchaseDelay.minutes, func.sum(PurchaseDelay.count))
        .where(PurchaseDelay.shop_id == shop_id, PurchaseDelay.day >= since, PurchaseDelay.day <= until)
        .group_by(PurchaseDelay.minutes).order_by(PurchaseDelay.minutes)).all()
    total = sum(int(count) for _, count in buckets if count > 0)
    if not total:
        return None
    seen = 0
    for minutes, count in buckets:
        seen += max(0, int(count))
        if seen * 2 >= total:
            return int(minutes) * 60
    return None  # unreachable: the loop reaches the total


def shop_overview(session: Session, shop_id: int) -> dict[str, int]:
    """The three numbers on the app home page (waiting now, restock events, notices sent)."""
    sums = session.execute(select(func.coalesce(func.sum(ShopDay.subscribed - ShopDay.unwaited), 0),
                                  func.coalesce(func.sum(ShopDay.told), 0)).where(ShopDay.shop_id == shop_id)).one()
    restocks = session.scalar(select(func.count()).select_from(RestockEvent).where(RestockEvent.shop_id == shop_id))
    return {"waiting_subscriptions": int(sums[0]), "restock_events": restocks, "notifications_sent": int(sums[1])}


def _days(session: Session, shop_id: int, since: date, until: date) -> dict[date, ShopDay]:
    rows = session.scalars(select(ShopDay).where(ShopDay.shop_id == shop_id, ShopDay.day >= since,
                                                 ShopDay.day <= until))
    return {row.day: row for row in rows}


def _first_day(session: Session, shop_id: int) -> date | None:
    return session.scalar(select(func.min(ShopDay.day)).where(ShopDay.shop_id == shop_id))


def _waiting_at(session: Session, shop_id: int, until: date) -> int:
    net = session.scalar(select(func.sum(ShopDay.subscribed - ShopDay.unwaited))
                         .where(ShopDay.shop_id == shop_id, ShopDay.day <= until))
    return int(net or 0)


def _each_day(since: date, until: date):
    for offset in range((until - since).days + 1):
        yield since + timedelta(days=offset)


def _point(day: date, row: ShopDay | None) -> dict:
    return {"date": day.isoformat(), "subscribed": row.subscribed if row else 0, "notified": row.told if row else 0,
            "clicked": row.clicked if row else 0, "purchased": row.purchased if row else 0,
            "revenue": str(Decimal(row.revenue if row else 0).quantize(Decimal("0.01")))}
