"""/r/<token> lands where the notice promised: the variant with the shopper's code applied, or a
cart permalink with it, on the storefront's primary domain; a variant sold out again still lands
on its product page."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import update

from plugin.dispatch.tasks import dispatch_restock
from plugin.models import Notification, Variant
from tests.offers.builders import VARIANT, offer_shop, outbox_lines, restock
from tests.webhooks.delivery import DEMO_SHOP

STOREFRONT = "shop.example.com"


def _told(app, app_config, runtime, session, shopify_admin, installed_shop, **settings) -> list[dict]:
    shopify_admin.shops[DEMO_SHOP].primary_domain = STOREFRONT
    offer_shop(runtime, session, shopify_admin, installed_shop, units=2, shoppers=2, discount_percent=10,
               **settings)
    event_id = restock(session, installed_shop.id, units=2)
    with app.app_context():
        dispatch_restock.delay(event_id)
    return outbox_lines(app_config)


def _follow(client, line: dict) -> str:
    response = client.get(urlsplit(line["url"]).path)
    assert response.status_code == 302
    return response.headers["Location"]


def test_product_link_applies_the_shoppers_code_and_lands_on_the_variant(app, app_config, client, runtime, session,
                                                                         shopify_admin, installed_shop):
    # given
    lines = _told(app, app_config, runtime, session, shopify_admin, installed_shop)

    # when
    targets = {line["discount_code"]: _follow(client, line) for line in lines}

    # then each shopper's link carries their own code and the variant
    for code, target in targets.items():
        parts = urlsplit(target)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", STOREFRONT, f"/discount/{code}")
        assert parse_qs(parts.query) == {"redirect": [f"/products/linen-shirt?variant={VARIANT}"]}
        assert "%2Fproducts%2Flinen-shirt%3Fvariant%3D" in parts.query
    # … and the click is recorded
    session.expire_all()
    assert all(n.clicked_at is not None for n in session.query(Notification))


def test_cart_link_puts_the_variant_in_the_cart_with_the_code(app, app_config, client, runtime, session,
                                                              shopify_admin, installed_shop):
    # given
    lines = _told(app, app_config, runtime, session, shopify_admin, installed_shop, link_target="cart")

    # when
    targets = {line["discount_code"]: _follow(client, line) for line in lines}

    # then
    assert targets == {code: f"https://{STOREFRONT}/cart/{VARIANT}:1?discount={code}" for code in targets}


@pytest.mark.parametrize("link_target", ["product", "cart"])
def test_a_variant_sold_out_again_still_lands_on_its_product_page(app, app_config, client, runtime, session,
                                                                  shopify_admin, installed_shop, link_target):
    # given the notice went out, then the variant sold out
    line = _told(app, app_config, runtime, session, shopify_admin, installed_shop, link_target=link_target)[0]
    session.execute(update(Variant).values(available=0))
    session.commit()

    # when
    target = _follow(client, line)

    # then
    assert unquote(target) == (f"https://{STOREFRONT}/discount/{line['discount_code']}"
                               f"?redirect=/products/linen-shirt?variant={VARIANT}")
