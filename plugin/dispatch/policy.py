"""Who is told first, and how many at a time, when a variant comes back.

The order is an SQL ORDER BY, so every batch stays one set-based ``INSERT … SELECT``:

1. shoppers who have not been told since they started waiting, before shoppers told at an
   earlier restock who did not buy (those are enrolled again, in their registration order);
2. within each, VIP customers (the merchant's ``vip_tags``) first;
3. then registration order (``Subscription.id``, unique: the tiebreaker).

The size of a batch is ``batch_per_unit`` × the units in stock; ``None`` tells everybody at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, case

from plugin.models import Subscription
from plugin.shop_settings import ShopSettings


@dataclass(frozen=True)
class ReleasePolicy:
    per_unit: int | None  # None = everybody at once
    vip_tags: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "everyone_at_once" if self.per_unit is None else f"{self.per_unit}_per_unit"

    def order_by(self, told_before: ColumnElement[bool], vip: ColumnElement[bool] | None) -> list[ColumnElement]:
        """ORDER BY terms over the candidates; ``vip`` is None when the shop has no VIP tags."""
        terms = [case((told_before, 1), else_=0)]
        if vip is not None:
            terms.append(case((vip, 0), else_=1))
        return [*terms, Subscription.id.asc()]

    def batch_size(self, stock: int) -> int | None:
        """How many shoppers ``stock`` units are worth now; ``None`` means all of them."""
        if self.per_unit is None:
            return None
        return max(stock, 0) * self.per_unit


def policy_for(settings: ShopSettings) -> ReleasePolicy:
    if settings.reserve_minutes:
        # Offers: with held units the restock is a queue, one shopper per unit (VIPs still first).
        return ReleasePolicy(per_unit=1, vip_tags=settings.vip_tags)
    return ReleasePolicy(per_unit=settings.batch_per_unit, vip_tags=settings.vip_tags)
