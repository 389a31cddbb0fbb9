"""plugin.inbox.shapes: each topic accepts what Shopify sends for it and nothing else."""

from __future__ import annotations

import json

import pytest

from plugin.inbox.shapes import TOPIC_SHAPES, Problem, payload_problem
from tests.conftest import SHARED

SHOP = "bells.myshopify.com"

# Bodies in the shapes of Shopify's documented examples (the same fields as the files in
# ../shared/shopify/payloads/), so a bare clone checks them too.
SHOPIFY_BODIES = {
    "inventory_levels/update": {
        "inventory_item_id": 271878346596884015, "location_id": 24826418, "available": 6,
        "updated_at": "2021-12-31T19:00:00-05:00",
        "admin_graphql_api_id": "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015",
    },
    "products/update": {
        "id": 788032119674292922, "title": "Example T-Shirt", "handle": "example-t-shirt", "status": "active",
        "variants": [{"id": 642667041472713922, "product_id": 788032119674292922, "title": "Small",
                      "price": "19.99", "inventory_policy": "deny", "inventory_item_id": 271878346596884015,
                      "inventory_quantity": 75, "inventory_management": "shopify"}],
    },
    "orders/create": {
        "id": 820982911946154508, "email": "jon@example.com", "total_price": "403.00",
        "customer": {"id": 115310627314723954, "email": "john@example.com", "phone": None},
        "discount_codes": [],
        "line_items": [{"id": 866550311766439020, "product_id": 788032119674292922, "variant_id": None,
                        "quantity": 1, "price": "199.00"}],
    },
    "app/uninstalled": {"id": 548380009, "name": "John Smith Test Store", "domain": "shop.apple.com",
                        "myshopify_domain": SHOP},
    "shop/redact": {"shop_id": 954889, "shop_domain": SHOP},
    "customers/redact": {"shop_id": 954889, "shop_domain": SHOP,
                         "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                         "orders_to_redact": [299938, 280263]},
    "customers/data_request": {"shop_id": 954889, "shop_domain": SHOP, "orders_requested": [299938],
                               "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                               "data_request": {"id": 9999}},
}
OFFICIAL_FILES = {
    "inventory_levels_update.json": "inventory_levels/update",
    "inventory_levels_update_null_available.json": "inventory_levels/update",
    "products_update.json": "products/update",
    "orders_create.json": "orders/create",
    "app_uninstalled.json": "app/uninstalled",
    "shop_redact.json": "shop/redact",
    "customers_redact.json": "customers/redact",
    "customers_data_request.json": "customers/data_request",
}


def test_every_handled_topic_has_a_shape():
    from plugin.inbox.topics import HANDLERS

    assert set(HANDLERS) <= set(TOPIC_SHAPES)


@pytest.mark.parametrize("topic", sorted(SHOPIFY_BODIES))
def test_shopify_shaped_bodies_pass(topic):
    assert payload_problem(topic, SHOP, SHOPIFY_BODIES[topic]) is None


@pytest.mark.skipif(not (SHARED / "shopify" / "payloads").is_dir(),
                    reason="../shared/shopify/payloads not present (bare clone); the built bodies above stand in")
@pytest.mark.parametrize("name", sorted(OFFICIAL_FILES))
def test_official_payload_files_pass(name):
    # given Shopify's sample body; the uninstall sample names its own shop, the others a placeholder
    text = (SHARED / "shopify" / "payloads" / name).read_text().replace("{shop}.myshopify.com", SHOP)
    body = json.loads(text)
    shop = body.get("myshopify_domain", SHOP)

    # then
    assert payload_problem(OFFICIAL_FILES[name], shop, body) is None


@pytest.mark.parametrize("topic", ["shop/redact", "app/uninstalled", "customers/redact", "customers/data_request"])
@pytest.mark.parametrize("captured", ["inventory_levels/update", "products/update", "orders/create"])
def test_a_body_of_another_topic_cannot_act_on_a_shop(topic, captured):
    # when an inventory, product or order body is replayed under a shop-wide topic
    problem = payload_problem(topic, "victim.myshopify.com", SHOPIFY_BODIES[captured])

    # then
    assert problem is not None
    assert problem.code in ("shop_mismatch", "invalid_payload")


@pytest.mark.parametrize("topic", ["shop/redact", "app/uninstalled", "customers/redact", "customers/data_request"])
def test_a_shop_wide_body_for_one_shop_cannot_act_on_another(topic):
    problem = payload_problem(topic, "victim.myshopify.com", SHOPIFY_BODIES[topic])

    assert problem == Problem("shop_mismatch", "The body is for another shop than X-Shopify-Shop-Domain.")


def test_uninstall_body_naming_only_the_primary_domain_must_match():
    body = {"id": 1, "domain": "bells.myshopify.com"}

    assert payload_problem("app/uninstalled", SHOP, body) is None
    assert payload_problem("app/uninstalled", "victim.myshopify.com", body).code == "shop_mismatch"


@pytest.mark.parametrize("captured", ["products/update", "orders/create", "shop/redact"])
def test_an_inventory_delivery_must_look_like_an_inventory_level(captured):
    body = {k: v for k, v in SHOPIFY_BODIES[captured].items() if k != "shop_domain"}

    assert payload_problem("inventory_levels/update", SHOP, body).code == "invalid_payload"


BROKEN = [
    ("inventory_levels/update", {"available": 1e308}),
    ("inventory_levels/update", {"available": 2**31}),
    ("inventory_levels/update", {"available": ["6"]}),
    ("inventory_levels/update", {"available": True}),
    ("inventory_levels/update", {"inventory_item_id": 1.5}),
    ("inventory_levels/update", {"inventory_item_id": 2**63}),
    ("inventory_levels/update", {"location_id": "24826418"}),
    ("inventory_levels/update", {"updated_at": ["2021-12-31T19:00:00-05:00"]}),
    ("inventory_levels/update", {"updated_at": "2021-12-31T19:00:00"}),
    ("inventory_levels/update", {"updated_at": "yesterday"}),
    ("products/update", {"variants": {"id": 1}}),
    ("products/update", {"variants": "none"}),
    ("products/update", {"variants": [1, 2]}),
    ("products/update", {"title": ["Example"]}),
    ("products/update", {"status": "x" * 500}),
    ("products/update", {"id": 1e20}),
    ("orders/create", {"line_items": [{"variant_id": {"a": 1}, "quantity": 1}]}),
    ("orders/create", {"line_items": [{"variant_id": 1, "quantity": 1e308}]}),
    ("orders/create", {"line_items": None}),
    ("orders/create", {"customer": "nobody"}),
    ("orders/create", {"email": ["a@b.c"]}),
    ("customers/redact", {"customer": "nobody"}),
    ("customers/redact", {"customer": {"id": 1, "email": ["john@example.com"]}}),
    ("customers/redact", {"orders_to_redact": "all"}),
    ("customers/data_request", {"data_request": "x"}),
    ("customers/data_request", {"customer": None}),
    ("shop/redact", {"shop_id": "954889"}),
]


@pytest.mark.parametrize("topic,change", BROKEN, ids=[f"{t}-{i}" for i, (t, _) in enumerate(BROKEN)])
def test_wrong_types_in_a_topics_own_body_are_refused(topic, change):
    # given Shopify's body of that topic with one field of the wrong type or size
    body = {**SHOPIFY_BODIES[topic], **change}

    # then
    problem = payload_problem(topic, SHOP, body)
    assert problem is not None and problem.code == "invalid_payload", problem
    assert topic in problem.message


def test_unknown_topics_are_left_to_the_handler_table():
    assert payload_problem("made/up", SHOP, {"anything": [1, 2]}) is None


@pytest.mark.parametrize("body", [[1, 2], "text", None, 5])
def test_a_body_that_is_not_an_object_is_refused(body):
    assert payload_problem("orders/create", SHOP, body) == Problem("invalid_json", "The body must be a JSON object.")
