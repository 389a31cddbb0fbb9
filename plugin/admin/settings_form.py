"""The Settings page's form, built from ``GET /api/settings``'s values: one field per setting,
grouped the way a merchant thinks about them, its kind (number, off-able number, list, choice,
switch) deciding the Polaris field and how ``admin.js`` turns the input back into JSON. A setting
this module does not know still gets a field (under "More"), typed from its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUPS = {
    "channels": ("email_enabled", "sms_enabled", "sender_name", "reply_to"),
    "batching": ("batch_per_unit", "batch_interval_minutes", "vip_tags", "link_customers_by_email",
                 "restock_minimum", "cooldown_minutes", "frequency_cap_hours", "max_alerts_per_subscription"),
    "offers": ("discount_percent", "discount_expires_hours", "link_target", "reserve_minutes"),
    "quiet": ("quiet_hours_start", "quiet_hours_end"),
    "locations": ("counted_location_ids",),
    "followup": ("reminder_hours", "double_opt_in"),
}
KINDS = {
    "batch_per_unit": "int_or_off", "quiet_hours_start": "int_or_off", "quiet_hours_end": "int_or_off",
    "frequency_cap_hours": "int_or_off", "discount_percent": "int_or_off", "reserve_minutes": "int_or_off",
    "reminder_hours": "int_or_off", "vip_tags": "tags", "counted_location_ids": "list", "double_opt_in": "bool",
    "link_target": "choice", "link_customers_by_email": "bool", "max_alerts_per_subscription": "int_or_off",
}
CHOICES = {"link_target": ("product", "cart")}


@dataclass(frozen=True)
class SettingField:
    name: str
    kind: str  # int | int_or_off | bool | tags | list | choice | text
    value: Any
    choices: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The value as the field shows it: lists comma-separated, off as empty."""
        if self.value is None:
            return ""
        if isinstance(self.value, (list, tuple)):
            return ", ".join(str(item) for item in self.value)
        return str(self.value)


def grouped_fields(values: dict[str, Any]) -> list[tuple[str, list[SettingField]]]:
    """``[(group, fields)]`` in the page's order; groups without settings are left out."""
    placed = {name for names in GROUPS.values() for name in names}
    groups = [(group, [_field(name, values[name]) for name in names if name in values])
              for group, names in GROUPS.items()]
    others = [_field(name, value) for name, value in sorted(values.items()) if name not in placed]
    return [(group, fields) for group, fields in groups + [("other", others)] if fields]


def _field(name: str, value: Any) -> SettingField:
    kind = KINDS.get(name) or _kind_of(value)
    return SettingField(name, kind, value, CHOICES.get(name, ()))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) or value is None:
        return "int" if value is not None else "int_or_off"
    if isinstance(value, (list, tuple)):
        return "tags"
    return "text"
