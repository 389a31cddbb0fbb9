"""``shop/update`` keeps the shop's IANA time zone (quiet hours), name and currency current."""

from __future__ import annotations

from sqlalchemy import select

from plugin.models import Shop
from tests.webhooks.delivery import DEMO_SHOP, deliver


def _profile(runtime) -> tuple[str, str, str]:
    with runtime.db.session() as s:
        shop = s.scalar(select(Shop).where(Shop.domain == DEMO_SHOP))
        return shop.timezone, shop.name, shop.currency


def _shop_body(**fields) -> dict:
    # The shape Shopify sends (the REST Shop resource), trimmed.
    return {"id": 548380009, "myshopify_domain": DEMO_SHOP, "domain": "shop.example.com",
            "timezone": "(GMT+01:00) Europe/Paris", **fields}


def test_a_new_time_zone_name_and_currency_are_stored(installed_shop, client, runtime):
    # given
    assert _profile(runtime) == ("America/New_York", "Backbell Demo", "USD")

    # when
    response = deliver(client, "shop/update", _shop_body(iana_timezone="Europe/Paris", name="La Boutique",
                                                         currency="EUR"))

    # then
    assert response.status_code == 200
    assert _profile(runtime) == ("Europe/Paris", "La Boutique", "EUR")


def test_an_unknown_zone_or_malformed_fields_change_nothing(installed_shop, client, runtime):
    # when
    response = deliver(client, "shop/update", _shop_body(iana_timezone="Mars/Olympus_Mons", name="", currency=7))

    # then
    assert response.status_code == 200
    assert _profile(runtime) == ("America/New_York", "Backbell Demo", "USD")
