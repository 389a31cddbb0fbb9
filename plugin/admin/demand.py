"""The demand table, the merchant's restocking list: per variant, who waits and what it is worth.

Read from ``variant_totals`` (kept as things happen) joined to the variant mirror, ordered by
waiting shoppers on an index, so it costs the same with a thousand subscriptions or a million.

The reorder suggestion is how many units the waiting shoppers are likely to buy, from this
shop's own conversion rate (purchases per restock notice), less what is on hand. A shop with
little history would get wild numbers from its own few notices, so the rate is smoothed towards
a prior: 10 % (``PRIOR_RATE``, a middle value for back-in-stock alerts, which convert far better
than ordinary marketing mail), weighted as if ``PRIOR_WEIGHT`` notices had been sent at it. With
no notices yet the prior alone is used, and ``basis`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from plugin.admin.overview import money
from plugin.admin.paging import Cursor, Order, Page, keyset_page
from plugin.models import Shop, ShopDay, Variant, VariantTotal

PRIOR_RATE = Decimal("0.10")
PRIOR_WEIGHT = 20
CSV_HEADER = ("variant_id", "product_id", "product_title", "variant_title", "waiting", "stock", "price",
              "value_waiting", "currency", "expected_at", "told", "purchased", "revenue", "expected_buyers",
              "reorder_suggestion")


@dataclass(frozen=True)
class ConversionRate:
    rate: Decimal
    basis: str  # "prior" (no notices yet) | "shop" (the shop's own, smoothed towards the prior)
    told: int
    purchased: int

    def as_json(self) -> dict:
        return {"rate": float(self.rate.quantize(Decimal("0.0001"))), "basis": self.basis, "told": self.told,
                "purchased": self.purchased, "prior_rate": float(PRIOR_RATE), "prior_weight": PRIOR_WEIGHT}


def conversion_rate(session: Session, shop_id: int) -> ConversionRate:
    told, purchased = session.execute(select(func.coalesce(func.sum(ShopDay.told), 0),
                                             func.coalesce(func.sum(ShopDay.purchased), 0))
                                      .where(ShopDay.shop_id == shop_id)).one()
    told, purchased = int(told), max(0, int(purchased))
    smoothed = (Decimal(purchased) + PRIOR_RATE * PRIOR_WEIGHT) / (Decimal(told) + PRIOR_WEIGHT)
    return ConversionRate(smoothed, "shop" if told else "prior", told, purchased)


def demand_rows(session: Session, shop: Shop, min_waiting: int = 1, limit: int | None = None,
                offset: int = 0) -> Iterator[dict]:
    """The shop's variants by waiting shoppers, most wanted first."""
    rate = conversion_rate(session, shop.id)
    query = demand_query(shop, min_waiting).order_by(VariantTotal.waiting.desc(), VariantTotal.variant_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    for total, variant in session.execute(query.execution_options(yield_per=1000)):
        yield demand_row(total, variant, shop.currency, rate)


ORDER = (Order(VariantTotal.waiting, descending=True), Order(VariantTotal.variant_id, descending=False))


def demand_query(shop: Shop, min_waiting: int):
    return (select(VariantTotal, Variant)
            .outerjoin(Variant, and_(Variant.shop_id == VariantTotal.shop_id,
                                     Variant.variant_id == VariantTotal.variant_id))
            .where(VariantTotal.shop_id == shop.id, VariantTotal.waiting >= min_waiting))


def demand_key(row: dict) -> tuple[int, int]:
    return row["waiting"], row["variant_id"]


def demand_page(session: Session, shop: Shop, min_waiting: int, limit: int, cursor: Cursor | None = None) -> Page:
    """Most wanted first (waiting, then variant id), keyset-paged."""
    rate = conversion_rate(session, shop.id)
    page = keyset_page(session, demand_query(shop, min_waiting), ORDER,
                       lambda row: (row[0].waiting, row[0].variant_id), limit, cursor)
    return Page([demand_row(total, variant, shop.currency, rate) for total, variant in page.rows],
                page.next, page.previous)


def demand_row(total: VariantTotal, variant: Variant | None, currency: str, rate: ConversionRate) -> dict:
    price = _price(variant.price if variant else None)
    stock = variant.available if variant else None
    expected = math.ceil(Decimal(total.waiting) * rate.rate) if total.waiting > 0 else 0
    return {
        "variant_id": total.variant_id,
        "product_id": variant.product_id if variant else None,
        "product_title": variant.product_title if variant else None,
        "variant_title": variant.title if variant else None,
        "waiting": total.waiting,
        "stock": stock,
        "price": money(price, currency) if price is not None else None,
        "value_waiting": money(price * total.waiting, currency) if price is not None else None,
        "expected_at": variant.expected_at.date().isoformat() if variant and variant.expected_at else None,
        "told": total.told,
        "purchased": total.purchased,
        "revenue": money(total.revenue, currency),
        "expected_buyers": expected,
        "reorder_suggestion": max(0, expected - max(stock or 0, 0)),
    }


def csv_row(row: dict) -> tuple:
    amount = lambda m: m["amount"] if m else None  # noqa: E731
    currency = (row["revenue"] or {}).get("currency_code")
    return (row["variant_id"], row["product_id"], row["product_title"], row["variant_title"], row["waiting"],
            row["stock"], amount(row["price"]), amount(row["value_waiting"]), currency, row["expected_at"],
            row["told"], row["purchased"], amount(row["revenue"]), row["expected_buyers"], row["reorder_suggestion"])


def _price(raw: str | None) -> Decimal | None:
    try:
        price = Decimal(raw) if raw is not None else None
    except InvalidOperation:
        return None
    return price if price is not None and price.is_finite() and price >= 0 else None
