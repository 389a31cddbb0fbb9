"""Numbers, money, rates and durations as the merchant reads them in their admin language."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import (
    UnknownCurrencyError,
    format_currency,
    format_decimal,
    format_percent,
)

from plugin.clock import utcnow


def babel_locale(locale: str) -> str:
    return locale.replace("-", "_")


def shop_today(shop, days: int) -> tuple[date, date]:
    """The last ``days`` days of the shop's calendar, today included."""
    try:
        zone = ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    today = utcnow().astimezone(zone).date()
    return today - timedelta(days=days - 1), today


def format_metric(name: str, numbers: dict, t) -> str:
    locale = babel_locale(t.locale)
    if name == "revenue":
        return money(numbers.get("revenue"), locale)
    if name == "conversion":
        rate = numbers.get("conversion_rate")
        return t("common.none") if rate is None else format_percent(rate, "#,##0.0%", locale=locale)
    if name == "median_time":
        return duration(numbers.get("median_time_to_purchase_seconds"), t)
    value = numbers.get(name)
    return t("common.none") if value is None else format_decimal(value, locale=locale)


def money(value: dict | None, locale: str) -> str:
    if not value:
        return "—"
    try:
        return format_currency(Decimal(value["amount"]), value["currency_code"], locale=locale)
    except (UnknownCurrencyError, ValueError):
        return f'{value["amount"]} {value["currency_code"]}'


def duration(seconds: int | None, t) -> str:
    if seconds is None:
        return t("common.none")
    minutes = round(seconds / 60)
    if minutes < 120:
        return t("duration.minutes", n=minutes)
    hours = round(minutes / 60)
    return t("duration.hours", n=hours) if hours < 48 else t("duration.days", n=round(hours / 24))
