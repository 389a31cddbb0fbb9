"""A shop's profile from the ``shop/update`` webhook: IANA time zone (quiet hours), name, currency.

Install reads the same fields through ``ShopBasics`` (``plugin.shopify.auth``); the webhook keeps
them current when the merchant changes them later. A field missing or malformed in the body
leaves the stored value alone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.logging import get_logger
from plugin.models import Shop

log = get_logger(__name__)


def refresh_shop_profile(shop: Shop, payload: dict) -> None:
    zone = payload.get("iana_timezone")
    if _known_zone(zone):
        shop.timezone = zone
    elif zone is not None:
        log.warning("shop_update_unknown_time_zone", shop_id=shop.id)
    name, currency = payload.get("name"), payload.get("currency")
    if isinstance(name, str) and 0 < len(name.strip()) <= 255:
        shop.name = name.strip()
    if isinstance(currency, str) and len(currency) == 3 and currency.isalpha():
        shop.currency = currency.upper()
    log.info("shop_profile_refreshed", shop_id=shop.id, time_zone=shop.timezone)


def _known_zone(name: object) -> bool:
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
