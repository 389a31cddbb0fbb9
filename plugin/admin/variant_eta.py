"""``PATCH /api/variants/<id>``: the merchant sets or clears the date a variant is expected back.

The body is ``{"expected_at": "YYYY-MM-DD" | null}``; a date before today in the shop's time zone
(or absurdly far ahead) is refused. Storing the date and announcing it to waiting shoppers is
``plugin.dispatch.eta``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.dispatch.quiet_hours import shop_zone
from plugin.models import WAITING, Subscription, Variant
from plugin.shop_settings import settings_for

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_AHEAD = timedelta(days=2 * 366)


class VariantInputError(ValueError):
    def __init__(self, code: str, message: str, field: str | None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def parse_expected_date(body: Any, now: datetime, time_zone: str | None) -> date | None:
    """The date in a PATCH body, checked against today in the shop's time zone."""
    if not isinstance(body, dict) or "expected_at" not in body:
        raise VariantInputError("invalid_body", 'Send {"expected_at": "YYYY-MM-DD"} or {"expected_at": null}.',
                                "expected_at")
    unknown = sorted(set(body) - {"expected_at"})
    if unknown:
        raise VariantInputError("unknown_field", f"'{unknown[0]}' cannot be changed here.", unknown[0])
    raw = body["expected_at"]
    if raw is None:
        return None
    expected = _date(raw)
    today = now.astimezone(shop_zone(time_zone)).date()
    if expected < today or expected > today + MAX_AHEAD:
        raise VariantInputError("invalid_date", "expected_at must be a date from today to two years ahead.",
                                "expected_at")
    return expected


def _date(raw: Any) -> date:
    if isinstance(raw, str) and _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise VariantInputError("invalid_date", "expected_at must be a date written YYYY-MM-DD, or null.", "expected_at")


def variant_status(session: Session, shop, variant: Variant) -> dict:
    """What the admin shows for a variant: stock, waiting shoppers, the expected date."""
    waiting = session.scalar(select(func.count(Subscription.id)).where(
        Subscription.shop_id == variant.shop_id, Subscription.variant_id == variant.variant_id,
        Subscription.status == WAITING, Subscription.confirm_by.is_(None)))
    minimum = settings_for(shop).restock_minimum
    return {
        "variant_id": variant.variant_id,
        "available": variant.available,
        "sold_out": None if variant.available is None else variant.available < minimum,
        "waiting_allowed": variant.can_alert,
        "waiting_count": waiting,
        "expected_at": variant.expected_at.date().isoformat() if variant.expected_at else None,
    }
