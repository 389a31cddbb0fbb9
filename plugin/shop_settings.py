"""Typed defaults and validation over ``Shop.settings`` (a JSON column).

The column stores only what the merchant changed; everything else falls back to the defaults
here, so a new setting needs no data migration. Keys this module does not know are kept in
``extra`` untouched, so a module that adds its own setting does not lose it on a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from plugin.models import Shop


class SettingsError(ValueError):
    """A setting has a wrong type or range; ``field`` names it, the message says what is allowed."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ShopSettings:
    # Inventory and restock detection.
    restock_minimum: int = 1
    cooldown_minutes: int = 30
    counted_location_ids: tuple[int, ...] | None = None  # None = every location
    reconcile_stale_minutes: int = 10
    # Release (read by plugin.dispatch: waves, policy, quiet hours, reminders).
    batch_per_unit: int | None = 3  # shoppers told per unit back; None = everybody at once
    batch_interval_minutes: int = 15  # between batches; each re-reads the stock first
    vip_tags: tuple[str, ...] = ()
    # Shoppers who signed up by email unlinked are looked up among the shop's customers by their
    # address (Admin GraphQL, in bulk, at plan time) — only when the merchant allows it.
    link_customers_by_email: bool = False
    quiet_hours_start: int | None = None  # hour 0–23 in the shop's time zone; both or neither
    quiet_hours_end: int | None = None
    frequency_cap_hours: int | None = None
    reminder_hours: int | None = None  # one follow-up this long after a restock notice
    double_opt_in: bool = False
    # Restock alerts a subscription gets without a purchase before it closes; None = no limit.
    max_alerts_per_subscription: int | None = 3
    # Measurement: an order within this many days of a notice counts as recovered by it.
    attribution_window_days: int = 10
    # Intake: valid sign-ups a minute before the shop's form answers 429 (a product drop needs thousands).
    intake_per_minute: int = 6000
    # Subscribers become (tagged) Shopify customers (plugin.measurement.customers).
    sync_customers: bool = True
    # The merchant digest (plugin.measurement.digest): "daily", "weekly" or None (off), and the
    # waitlist size that earns a variant a line in it.
    digest: str | None = "weekly"
    digest_threshold: int = 10
    # Offers (read by plugin.offers): a personal code per told shopper, where the link lands,
    # and a unit held in a draft order for the first shoppers.
    discount_percent: int | None = None  # None = no codes
    discount_expires_hours: int = 72
    link_target: str = "product"  # "product" | "cart"
    reserve_minutes: int | None = None  # None = no held units
    apology_discount_percent: int | None = 10  # the code in a stock-out cancellation's apology; None = none
    extra: dict[str, Any] = field(default_factory=dict)

    def counts_location(self, location_id: int) -> bool:
        return self.counted_location_ids is None or location_id in self.counted_location_ids

    def to_json(self) -> dict[str, Any]:
        """Only the values that differ from the defaults, plus the unknown keys."""
        defaults = ShopSettings()
        stored = {
            f.name: _jsonable(getattr(self, f.name))
            for f in fields(self)
            if f.name != "extra" and getattr(self, f.name) != getattr(defaults, f.name)
        }
        return {**self.extra, **stored}


def settings_for(shop: Shop) -> ShopSettings:
    """The shop's settings with defaults filled in (invalid stored values raise ``SettingsError``)."""
    return parse_settings(shop.settings or {})


def setting_names() -> list[str]:
    """Every setting with a typed default, in declaration order (what the settings API shows)."""
    return list(_NAMES)


def parse_settings(raw: dict[str, Any]) -> ShopSettings:
    # Parsed wherever a task needs a setting (about ten times per restock): the names are read once.
    values = {name: _VALIDATORS[name](name, raw[name]) for name in _NAMES if name in raw}
    extra = {key: value for key, value in raw.items() if key not in _KNOWN}
    return ShopSettings(**values, extra=extra)


def _check_quiet_hours(settings: ShopSettings) -> None:
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    if (start is None) != (end is None):
        missing = "quiet_hours_end" if end is None else "quiet_hours_start"
        raise SettingsError(missing, "set both quiet_hours_start and quiet_hours_end, or neither (null = off)")
    if start is not None and start == end:
        raise SettingsError("quiet_hours_end", "must differ from quiet_hours_start (the window would be empty)")


def updated_settings(current: ShopSettings, changes: dict[str, Any]) -> ShopSettings:
    """``current`` with ``changes`` applied and validated (for the admin's settings form)."""
    merged = {**current.to_json(), **changes}
    settings = parse_settings(merged)
    # Checked on change only: a half-set window stored before this check existed reads as "off".
    _check_quiet_hours(settings)
    return settings


def _int_in(low: int, high: int, optional: bool = False):
    def check(name: str, value: Any) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(name, f"must be a whole number from {low} to {high}")
        return value

    return check


def _location_ids(name: str, value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value:
        raise SettingsError(name, "must be null (every location) or a non-empty list of location ids")
    ids = tuple(_shopify_id(name, item) for item in value)
    return tuple(sorted(set(ids)))


def _shopify_id(name: str, value: Any) -> int:
    if isinstance(value, str) and value.startswith("gid://shopify/"):
        value = value.rsplit("/", 1)[-1]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(name, f"'{value}' is not a Shopify id") from None
    if isinstance(value, bool) or number <= 0:
        raise SettingsError(name, f"'{value}' is not a Shopify id")
    return number


def _tags(name: str, value: Any) -> tuple[str, ...]:
    # Shopify tags never contain a comma and are at most 255 characters.
    if not isinstance(value, (list, tuple)) or len(value) > 50 or not all(
            isinstance(t, str) and t.strip() and "," not in t and len(t) <= 255 for t in value):
        raise SettingsError(name, "must be a list of at most 50 customer tags (no commas)")
    return tuple(t.strip() for t in value)


def _one_of(*allowed: str):
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise SettingsError(name, f"must be one of {', '.join(repr(a) for a in allowed)}")
        return value

    return check


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(name, "must be true or false")
    return value


def _digest(name: str, value: Any) -> str | None:
    if value is not None and value not in ("daily", "weekly"):
        raise SettingsError(name, 'must be "daily", "weekly" or null (off)')
    return value


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_VALIDATORS = {
    "restock_minimum": _int_in(1, 1_000_000),
    "cooldown_minutes": _int_in(0, 7 * 24 * 60),
    "counted_location_ids": _location_ids,
    "reconcile_stale_minutes": _int_in(1, 24 * 60),
    "batch_per_unit": _int_in(1, 1000, optional=True),
    "batch_interval_minutes": _int_in(1, 24 * 60),
    "vip_tags": _tags,
    "link_customers_by_email": _boolean,
    "quiet_hours_start": _int_in(0, 23, optional=True),
    "quiet_hours_end": _int_in(0, 23, optional=True),
    "frequency_cap_hours": _int_in(1, 24 * 90, optional=True),
    "reminder_hours": _int_in(1, 24 * 30, optional=True),
    "double_opt_in": _boolean,
    "max_alerts_per_subscription": _int_in(1, 100, optional=True),
    "attribution_window_days": _int_in(1, 90),
    "intake_per_minute": _int_in(10, 1_000_000),
    "sync_customers": _boolean,
    "digest": _digest,
    "digest_threshold": _int_in(1, 1_000_000),
    "discount_percent": _int_in(1, 100, optional=True),
    "discount_expires_hours": _int_in(1, 24 * 90),
    "link_target": _one_of("product", "cart"),
    "reserve_minutes": _int_in(5, 7 * 24 * 60, optional=True),
    "apology_discount_percent": _int_in(1, 100, optional=True),
}

_NAMES = tuple(f.name for f in fields(ShopSettings) if f.name != "extra")
_KNOWN = frozenset(_NAMES)
