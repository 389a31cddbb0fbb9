"""GET/PATCH /api/settings: every pinned setting with its value (defaults filled in); a bad value
is a 422 naming it and nothing of the request is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.models import Shop
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

PINNED_DEFAULTS = {
    "batch_per_unit": 3,
    "batch_interval_minutes": 15,
    "vip_tags": [],
    "quiet_hours_start": None,
    "quiet_hours_end": None,
    "restock_minimum": 1,
    "cooldown_minutes": 30,
    "frequency_cap_hours": None,
    "discount_percent": None,
    "discount_expires_hours": 72,
    "link_target": "product",
    "reserve_minutes": None,
    "reminder_hours": None,
    "double_opt_in": False,
}


def _bearer(app_config) -> dict:
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    return {"Authorization": f"Bearer {token}"}


def _stored(runtime) -> dict:
    with runtime.db.session() as s:
        return s.scalar(select(Shop.settings).where(Shop.domain == DEMO_SHOP)) or {}


def test_get_shows_every_pinned_setting_with_its_default(installed_shop, client, app_config):
    # when
    response = client.get("/api/settings", headers=_bearer(app_config))

    # then
    assert response.status_code == 200
    settings = response.get_json()["settings"]
    assert {name: settings[name] for name in PINNED_DEFAULTS} == PINNED_DEFAULTS


def test_patch_changes_the_named_settings_and_answers_all_of_them(installed_shop, client, app_config, runtime):
    # when
    response = client.patch("/api/settings", headers=_bearer(app_config), json={
        "batch_per_unit": None, "vip_tags": ["VIP", "Wholesale"], "quiet_hours_start": 22, "quiet_hours_end": 7,
        "reminder_hours": 48, "double_opt_in": True, "link_target": "cart"})

    # then
    assert response.status_code == 200
    settings = response.get_json()["settings"]
    assert {name: settings[name] for name in PINNED_DEFAULTS} == {
        **PINNED_DEFAULTS, "batch_per_unit": None, "vip_tags": ["VIP", "Wholesale"], "quiet_hours_start": 22,
        "quiet_hours_end": 7, "reminder_hours": 48, "double_opt_in": True, "link_target": "cart"}
    assert client.get("/api/settings", headers=_bearer(app_config)).get_json()["settings"] == settings
    assert _stored(runtime) == {"batch_per_unit": None, "vip_tags": ["VIP", "Wholesale"], "quiet_hours_start": 22,
                                "quiet_hours_end": 7, "reminder_hours": 48, "double_opt_in": True,
                                "link_target": "cart"}


def test_linking_by_email_is_off_and_alerts_are_capped_at_three_until_the_merchant_changes_them(
        installed_shop, client, app_config, runtime):
    # given the defaults of the two settings that are ours (not pinned in the contract)
    before = client.get("/api/settings", headers=_bearer(app_config)).get_json()["settings"]

    # when the merchant allows linking by email and lifts the limit
    response = client.patch("/api/settings", headers=_bearer(app_config),
                            json={"link_customers_by_email": True, "max_alerts_per_subscription": None})

    # then
    assert (before["link_customers_by_email"], before["max_alerts_per_subscription"]) == (False, 3)
    assert response.status_code == 200
    after = response.get_json()["settings"]
    assert (after["link_customers_by_email"], after["max_alerts_per_subscription"]) == (True, None)
    assert _stored(runtime) == {"link_customers_by_email": True, "max_alerts_per_subscription": None}


@pytest.mark.parametrize(("body", "field"), [
    ({"batch_per_unit": 0}, "batch_per_unit"),
    ({"batch_per_unit": "3"}, "batch_per_unit"),
    ({"batch_interval_minutes": None}, "batch_interval_minutes"),
    ({"vip_tags": "VIP"}, "vip_tags"),
    ({"vip_tags": ["a,b"]}, "vip_tags"),
    ({"quiet_hours_start": 24, "quiet_hours_end": 7}, "quiet_hours_start"),
    ({"quiet_hours_start": 22}, "quiet_hours_end"),
    ({"quiet_hours_start": 7, "quiet_hours_end": 7}, "quiet_hours_end"),
    ({"restock_minimum": 0}, "restock_minimum"),
    ({"cooldown_minutes": -1}, "cooldown_minutes"),
    ({"frequency_cap_hours": 0}, "frequency_cap_hours"),
    ({"discount_percent": 101}, "discount_percent"),
    ({"discount_expires_hours": 0}, "discount_expires_hours"),
    ({"link_target": "checkout"}, "link_target"),
    ({"reserve_minutes": True}, "reserve_minutes"),
    ({"reminder_hours": 1.5}, "reminder_hours"),
    ({"double_opt_in": "yes"}, "double_opt_in"),
    ({"link_customers_by_email": 1}, "link_customers_by_email"),
    ({"link_customers_by_email": None}, "link_customers_by_email"),
    ({"max_alerts_per_subscription": 0}, "max_alerts_per_subscription"),
    ({"max_alerts_per_subscription": "3"}, "max_alerts_per_subscription"),
    ({"max_alerts_per_subscription": 101}, "max_alerts_per_subscription"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
])
def test_a_bad_value_is_422_naming_the_field_and_nothing_of_the_request_is_stored(
        installed_shop, client, app_config, runtime, body, field):
    # given a good change in the same request as the bad one
    before = _stored(runtime)

    # when
    response = client.patch("/api/settings", headers=_bearer(app_config), json={"cooldown_minutes": 5, **body})

    # then
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_setting", field)
    assert error["message"]
    assert _stored(runtime) == before


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"{}"])
def test_a_body_that_is_no_object_of_changes_is_422_and_stores_nothing(installed_shop, client, app_config, runtime,
                                                                       body):
    # when
    response = client.patch("/api/settings", headers={**_bearer(app_config), "Content-Type": "application/json"},
                            data=body)

    # then
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] is None
    assert _stored(runtime) == {}


def test_settings_need_a_session_token(installed_shop, client):
    # when
    read = client.get("/api/settings")
    change = client.patch("/api/settings", json={"batch_per_unit": 5})

    # then
    assert (read.status_code, change.status_code) == (401, 401)
    assert read.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
