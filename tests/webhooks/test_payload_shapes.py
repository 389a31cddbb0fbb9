"""The payloads built in tests/webhooks/payloads.py have the shape of Shopify's own examples.

A provider-spec check: it needs ``../shared/shopify/payloads/`` and is skipped (and reported in the
run's summary) without it; every webhook test uses the builders either way.
"""

import json

import pytest

from tests.webhooks import payloads

SHOP = "bells.myshopify.com"
BUILT = {
    "customers_redact": payloads.customers_redact(SHOP),
    "customers_data_request": payloads.customers_data_request(SHOP),
    "shop_redact": payloads.shop_redact(SHOP),
    "app_uninstalled": payloads.app_uninstalled(SHOP),
    "orders_create": payloads.orders_create(product_id=788032119674292922),
}


def shape(value):
    """Keys and JSON types, recursively; a list by its first element; null matches anything."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None if value is None else type(value).__name__


def same_shape(ours, theirs) -> bool:
    if ours is None or theirs is None:
        return True
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(same_shape(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return not ours or not theirs or same_shape(ours[0], theirs[0])
    return ours == theirs


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_payload_has_the_shape_of_shopifys_example(name, shared_dir):
    # given Shopify's example body
    example = json.loads((shared_dir / "shopify" / "payloads" / f"{name}.json").read_text())

    # when / then ours has the same keys at every level, with the same JSON types
    assert same_shape(shape(BUILT[name]), shape(example)), (shape(BUILT[name]), shape(example))
