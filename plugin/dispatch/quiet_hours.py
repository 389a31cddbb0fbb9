"""Quiet hours: the window, in the shop's own time zone, in which nothing is sent.

The window is whole hours ``[start:00, end:00)`` on the shop's wall clock and may cross midnight
(22 → 7). A notice planned inside it is held until the window's end, stored as a UTC instant:
daylight-saving changes move the wall clock, never the stored instant, so a change inside the
window neither loses nor repeats anything. An end hour that a spring-forward skips (02:00 in
New York) resolves to the moment the clocks jump (03:00 EDT); an hour that a fall-back repeats
resolves to its first occurrence.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.logging import get_logger
from plugin.shop_settings import ShopSettings

log = get_logger(__name__)


def shop_zone(name: str | None) -> ZoneInfo:
    """The shop's IANA zone; UTC for a missing or unknown name (logged)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("shop_time_zone_unknown", time_zone=name)
        return ZoneInfo("UTC")


def quiet_until(now: datetime, time_zone: str | None, settings: ShopSettings) -> datetime | None:
    """When the quiet window around ``now`` ends (UTC), or None when ``now`` is outside it or the
    shop has no quiet hours."""
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = shop_zone(time_zone)
    local = now.astimezone(zone)
    if not _inside(local.hour, start, end):
        return None
    crosses_midnight = start > end
    end_day = local.date() + timedelta(days=1) if crosses_midnight and local.hour >= start else local.date()
    return wall_time(end_day, end, zone)


def wall_time(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` in ``zone`` as a UTC instant.

    ``fold=0`` reads a repeated hour as its first occurrence, and a skipped one with the offset
    from before the jump — which, for an hour at which the clocks jump, is the jump itself.
    """
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(timezone.utc)


def _inside(hour: int, start: int, end: int) -> bool:
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def held_decision(until: datetime, time_zone: str | None) -> str:
    """The decision-log line of a held notice (≤ 64 characters)."""
    local = until.astimezone(shop_zone(time_zone))
    return f"held: quiet hours until {local:%Y-%m-%d %H:%M} {local.tzname()}"
