"""Fixtures for intake tests: an installed shop and a way to post signed proxy requests."""

from __future__ import annotations

import pytest

from plugin.models import Shop
from tests.doubles.app_proxy import signed_proxy_url

SHOP_DOMAIN = "bells-and-boots.myshopify.com"
SECRET = "hush"  # the app_config fixture's shopify_api_secret


@pytest.fixture
def shop(session) -> Shop:
    shop = Shop(domain=SHOP_DOMAIN, name="Bells & Boots", settings={})
    session.add(shop)
    session.commit()
    return shop


@pytest.fixture
def post_subscription(client, shop):
    """POST a JSON body to /proxy/subscriptions, signed like Shopify's app proxy."""

    def post(body, customer_id=None, **kwargs):
        url = signed_proxy_url("subscriptions", shop.domain, SECRET, logged_in_customer_id=customer_id)
        return client.post(url, json=body, **kwargs)

    return post
