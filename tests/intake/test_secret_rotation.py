"""During a secret rotation Shopify may still sign with the previous secret."""

import pytest

from tests.doubles.app_proxy import signed_proxy_url


@pytest.fixture
def app_config(app_config):
    return {**app_config, "shopify_api_secret": "new-secret", "shopify_api_secret_old": "hush"}


def test_old_and_new_secret_are_both_accepted(client, shop):
    body = {"variant_id": 1, "email": "jane@shopper.dev"}

    old = client.post(signed_proxy_url("subscriptions", shop.domain, "hush"), json=body)
    new = client.post(signed_proxy_url("subscriptions", shop.domain, "new-secret"), json=body)
    other = client.post(signed_proxy_url("subscriptions", shop.domain, "guess"), json=body)

    assert (old.status_code, new.status_code, other.status_code) == (201, 200, 401)
