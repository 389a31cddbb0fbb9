"""The privacy webhooks also clear the outbox file, which holds copies of sent notices."""

from __future__ import annotations

import json

from tests.doubles.app_proxy import signed_proxy_url
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

VARIANT, ITEM, LOCATION = 642667041472713922, 271878346596884015, 24826418
OTHER_SHOP_LINE = {"channel": "email", "to": "ada@gmail.com", "shop": "other-shop.myshopify.com", "kind": "restock"}


def _outbox(runtime) -> list[dict]:
    return [json.loads(line) for line in (runtime.settings.outbox_path / "outbox.jsonl").read_text().splitlines()]


def _notify_two_shoppers(client, runtime, shopify_admin) -> None:
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={LOCATION: 0})
    for n, email in enumerate(["Ada@GMail.com", "bob@gmail.com"]):
        response = client.post(signed_proxy_url("subscriptions", DEMO_SHOP, "hush"),
                               json={"variant_id": VARIANT, "email": email},
                               headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
        assert response.status_code == 201
    shopify_admin.set_level(DEMO_SHOP, ITEM, LOCATION, 3)
    deliver(client, "inventory_levels/update", level_payload(ITEM, LOCATION, 3))
    with (runtime.settings.outbox_path / "outbox.jsonl").open("a") as outbox:
        outbox.write(json.dumps(OTHER_SHOP_LINE) + "\n")


def test_customer_redact_removes_that_customers_notices_from_the_outbox(shopify_admin, installed_shop, client,
                                                                         runtime):
    # given two shoppers of this shop notified through the outbox, and a line of another shop
    _notify_two_shoppers(client, runtime, shopify_admin)
    assert sorted(line["to"] for line in _outbox(runtime)) == ["ada@gmail.com", "ada@gmail.com", "bob@gmail.com"]

    # when Shopify asks to redact Ada (as the merchant's customer record spells her address)
    response = deliver(client, "customers/redact", {"shop_domain": DEMO_SHOP, "customer": {
        "id": 191167, "email": "ADA@gmail.com", "phone": None}, "orders_to_redact": []})

    # then her line of this shop is gone; Bob's and the other shop's stay
    assert response.status_code == 200
    assert [(line["shop"], line["to"]) for line in _outbox(runtime)] == [
        (DEMO_SHOP, "bob@gmail.com"), ("other-shop.myshopify.com", "ada@gmail.com")]


def test_shop_redact_removes_the_shops_notices_from_the_outbox(shopify_admin, installed_shop, client, runtime):
    # given
    _notify_two_shoppers(client, runtime, shopify_admin)

    # when
    response = deliver(client, "shop/redact", {"shop_id": 954889, "shop_domain": DEMO_SHOP})

    # then
    assert response.status_code == 200
    assert _outbox(runtime) == [OTHER_SHOP_LINE]
