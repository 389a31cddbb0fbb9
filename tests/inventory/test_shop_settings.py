"""Shop settings: defaults, validation, and unknown keys kept."""

from __future__ import annotations

import pytest

from plugin.models import Shop
from plugin.shop_settings import SettingsError, ShopSettings, parse_settings, settings_for, updated_settings


def test_defaults_when_nothing_is_stored():
    # when
    settings = settings_for(Shop(domain="a.myshopify.com", settings={}))
    # then
    assert (settings.restock_minimum, settings.cooldown_minutes, settings.counted_location_ids,
            settings.reconcile_stale_minutes, settings.batch_per_unit) == (1, 30, None, 10, 3)
    assert settings.counts_location(123) is True


def test_stored_values_are_parsed_and_unknown_keys_kept():
    # when
    settings = parse_settings({"restock_minimum": 3, "counted_location_ids": ["gid://shopify/Location/7", 5, 7],
                               "widget_colour": "#123456"})
    # then
    assert settings.restock_minimum == 3
    assert settings.counted_location_ids == (5, 7)
    assert (settings.counts_location(7), settings.counts_location(9)) == (True, False)
    assert settings.to_json() == {"restock_minimum": 3, "counted_location_ids": [5, 7], "widget_colour": "#123456"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"restock_minimum": 0}, "restock_minimum"),
        ({"restock_minimum": "2"}, "restock_minimum"),
        ({"cooldown_minutes": True}, "cooldown_minutes"),
        ({"counted_location_ids": []}, "counted_location_ids"),
        ({"counted_location_ids": ["shop floor"]}, "counted_location_ids"),
        ({"batch_per_unit": 0}, "batch_per_unit"),
        ({"vip_tags": "vip"}, "vip_tags"),
    ],
)
def test_invalid_values_name_the_field(raw, field):
    with pytest.raises(SettingsError) as err:
        parse_settings(raw)
    assert err.value.field == field


def test_updated_settings_validates_changes_and_keeps_the_rest():
    # given
    current = parse_settings({"cooldown_minutes": 60, "other_module": {"x": 1}})
    # when
    changed = updated_settings(current, {"batch_per_unit": 3})
    # then
    assert changed == ShopSettings(cooldown_minutes=60, batch_per_unit=3, extra={"other_module": {"x": 1}})
