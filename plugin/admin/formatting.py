"""Numbers, money, rates, durations and dates as the merchant reads them in their admin language;
dates and times in the shop's time zone (the IANA name from Shopify's Shop object). Pages only:
the JSON and CSV answers keep ISO 8601 in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
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


@dataclass(frozen=True)
class Dates:
    """Moments and days for one page: the merchant's locale (Babel, CLDR patterns), the shop's zone."""

    locale: str  # a Babel locale name ("de", "zh_CN")
    zone: ZoneInfo

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def moment(self, value: datetime | str | None) -> str:
        """A date and time to the minute, e.g. "Dec 2, 2026, 10:07 AM" or "02.12.2026, 10:07"."""
        at = _aware(value)
        if at is None:
            return ""
        cldr = Locale.parse(self.locale)
        pattern = str(cldr.datetime_formats["medium"]).format(cldr.time_formats["short"].pattern,
                                                             cldr.date_formats["medium"].pattern)
        return format_datetime(at, pattern, tzinfo=self.zone, locale=cldr)

    def day(self, value: datetime | date | str | None) -> str:
        """The day in the shop's calendar, e.g. "Dec 2, 2026" or "2026/12/02". A ``date`` (or a
        YYYY-MM-DD text) is already a shop day and is not moved between zones."""
        if value is None or value == "":
            return ""
        if isinstance(value, str) and len(value) == 10:
            value = date.fromisoformat(value)
        if not isinstance(value, datetime) and isinstance(value, date):
            return format_date(value, "medium", locale=self.locale)
        at = _aware(value)
        return format_date(at.astimezone(self.zone).date(), "medium", locale=self.locale)


def dates_for(shop, locale: str) -> Dates:
    try:
        zone = ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Dates(babel_locale(locale), zone)


def _aware(value: datetime | str | None) -> datetime | None:
    """A stored moment as an aware datetime; naive ones (SQLite) are UTC, as everything is stored."""
    if value is None or value == "":
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
