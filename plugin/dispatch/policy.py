"""Who is told first, and how many, when a variant comes back.

The dispatcher asks a policy two questions: in which order waiting subscriptions are served (an
SQL ORDER BY, so the plan stays one set-based statement) and how many of them to notify for the
stock that came back (``None`` = everybody). A new policy is one small class.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement

from plugin.models import Subscription


class DispatchPolicy(Protocol):
    name: str

    def order_by(self) -> list[ColumnElement]:
        """ORDER BY terms over ``Subscription`` columns; must end with a unique tiebreaker."""
        ...

    def limit(self, stock: int) -> int | None:
        """How many waiting shoppers to notify for ``stock`` units; ``None`` means all."""
        ...


class FirstComeAll:
    """Registration order, everybody (the default)."""

    name = "first_come_all"

    def order_by(self) -> list[ColumnElement]:
        return [Subscription.id.asc()]

    def limit(self, stock: int) -> int | None:
        return None


class FirstComePerUnit:
    """Registration order, ``per_unit`` shoppers for each unit back in stock (e.g. 3 per unit)."""

    name = "first_come_per_unit"

    def __init__(self, per_unit: int):
        if per_unit < 1:
            raise ValueError("per_unit must be at least 1")
        self.per_unit = per_unit

    def order_by(self) -> list[ColumnElement]:
        return [Subscription.id.asc()]

    def limit(self, stock: int) -> int | None:
        return max(stock, 0) * self.per_unit


DEFAULT_POLICY = FirstComeAll()


def policy_for(shop) -> DispatchPolicy:
    """The shop's policy from its settings (``batch_per_unit``; VIP ordering comes later)."""
    from plugin.shop_settings import settings_for

    settings = settings_for(shop)
    if settings.reserve_minutes:  # offers hook: with held units, one shopper per unit; the rest wait in line
        from plugin.offers.holds import HOLD_POLICY

        return HOLD_POLICY
    per_unit = settings.batch_per_unit
    return FirstComePerUnit(per_unit) if per_unit else DEFAULT_POLICY
