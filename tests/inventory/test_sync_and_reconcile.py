"""sync_variant (after a new subscription), the reconciliation sweep, products/update and pruning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.models import InventoryLevel, RestockEvent, Shop, Variant
from plugin.inventory.reconcile import UnknownShop, reconcile_shops
from plugin.inventory.tasks import sync_variant
from tests.webhooks import payloads
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, deliver, webhook_headers

VARIANT, ITEM, WAREHOUSE = 5151, 6161, 111


def restocks(session) -> list[tuple]:
    session.expire_all()
    return [(e.variant_id, e.previous_available, e.available, e.source)
            for e in session.scalars(select(RestockEvent).order_by(RestockEvent.id))]


def test_sync_mirrors_a_new_variant_with_its_levels(app, session, runtime, shopify_admin, installed_shop):
    # given Shopify has the variant sold out
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0, 222: 0},
                              product_title="Bell Boots", title="42")
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    # when intake asks for a sync
    with app.app_context():
        sync_variant.delay(installed_shop.id, VARIANT)
    # then
    variant = session.scalars(select(Variant)).one()
    assert (variant.variant_id, variant.inventory_item_id, variant.product_title, variant.title, variant.available) \
        == (VARIANT, ITEM, "Bell Boots", "42", 0)
    assert variant.synced_at is not None
    assert session.scalar(select(func.count()).select_from(InventoryLevel)) == 2
    assert restocks(session) == []


def test_sync_of_a_variant_already_in_stock_is_a_restock_for_its_waiters(app, session, runtime, shopify_admin,
                                                                          installed_shop):
    # given the shopper subscribed a second before the stock came back
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 2})
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    # when
    with app.app_context():
        sync_variant.delay(installed_shop.id, VARIANT)
    # then
    assert restocks(session) == [(VARIANT, None, 2, "sync")]


def test_sync_of_a_mirrored_in_stock_variant_alerts_the_new_waiter(app, session, runtime, shopify_admin,
                                                                    installed_shop):
    # given the mirror already knew it was in stock (no crossing will come)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 6})
    add_variant_row(session, installed_shop.id, VARIANT, ITEM, 6)
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    # when
    with app.app_context():
        sync_variant.delay(installed_shop.id, VARIANT)
    # then
    assert restocks(session) == [(VARIANT, None, 6, "sync")]


def test_reconcile_finds_a_restock_whose_webhook_was_lost(session, runtime, shopify_admin, installed_shop):
    # given two watched variants; one came back in Shopify without any webhook reaching us
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 3})
    shopify_admin.add_variant(DEMO_SHOP, VARIANT + 1, inventory_item_id=ITEM + 1, levels={WAREHOUSE: 0})
    add_variant_row(session, installed_shop.id, VARIANT, ITEM, 0)
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT + 1, value="second@gmail.com")
    # when
    report = reconcile_shops(runtime, None)
    # then
    assert report.lines() == ["Shops checked: 1", "Variants re-read: 2", "Restocks found: 1"]
    assert restocks(session) == [(VARIANT, 0, 3, "reconcile")]
    assert len(shopify_admin.graphql_requests("VariantStock")) == 1
    # when run again, nothing new
    assert reconcile_shops(runtime, DEMO_SHOP).restocks_found == 0


def test_reconcile_alerts_when_a_lost_products_update_made_an_in_stock_variant_alertable(
        session, runtime, shopify_admin, installed_shop):
    # given the mirror still thinks the product is a draft (the stock already came back while it
    # was), and the products/update that published it never reached us
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 3})
    add_variant_row(session, installed_shop.id, VARIANT, ITEM, 3, product_status="DRAFT")
    session.add(InventoryLevel(shop_id=installed_shop.id, inventory_item_id=ITEM, location_id=WAREHOUSE,
                               available=3))
    session.commit()
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    # when
    report = reconcile_shops(runtime, None)
    # then the waiting shopper is told, once
    assert report.restocks_found == 1
    assert restocks(session) == [(VARIANT, None, 3, "reconcile")]
    assert reconcile_shops(runtime, None).restocks_found == 0


def test_reconcile_skips_uninstalled_shops(session, runtime, shopify_admin, installed_shop):
    # given
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 3})
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    shop = session.get(Shop, installed_shop.id)
    shop.uninstalled_at = utcnow()
    session.commit()
    # when
    report = reconcile_shops(runtime, None)
    # then
    assert report.shops_checked == 0
    assert shopify_admin.graphql_requests() == []
    assert restocks(session) == []


def test_reconcile_unknown_shop_is_a_clear_error(runtime):
    with pytest.raises(UnknownShop, match="no installed shop named 'ghost.myshopify.com'"):
        reconcile_shops(runtime, "ghost.myshopify.com")


def test_cli_reconcile_unknown_shop_prints_one_line(app_config):
    # given the command run as an operator would, on the test database
    env = {**os.environ, "DATABASE_URL": app_config["database_url"],
           "BACKBELL_INSTANCE": str(app_config["instance_path"])}
    env.pop("REDIS_URL", None)
    # when
    command = [str(Path(sys.executable).parent / "backbell"), "reconcile", "--shop", "ghost.myshopify.com"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    # then
    assert result.returncode == 2
    assert "backbell: no installed shop named 'ghost.myshopify.com'" in result.stderr
    assert "Traceback" not in result.stderr


def test_products_update_refreshes_the_mirror(client, session, installed_shop):
    # given a mirrored variant
    add_variant_row(session, installed_shop.id, VARIANT, ITEM, 0)
    product = {"id": VARIANT + 1_000_000, "title": "Renamed", "handle": "renamed", "status": "archived",
               "variants": [{"id": VARIANT, "title": "XL", "price": "30.00", "inventory_policy": "continue",
                             "inventory_item_id": ITEM, "inventory_management": None}]}
    # when
    response = deliver(client, "products/update", product)
    # then
    assert response.status_code == 200
    session.expire_all()
    variant = session.scalars(select(Variant)).one()
    assert (variant.product_title, variant.product_status, variant.title, variant.price, variant.inventory_policy,
            variant.tracked) == ("Renamed", "ARCHIVED", "XL", "30.00", "CONTINUE", False)


def test_orders_create_is_accepted_without_changes(client, session, installed_shop):
    # when
    body = json.dumps(payloads.orders_create(product_id=788032119674292922))
    response = client.post("/webhooks", data=body.encode(), headers=webhook_headers(body.encode(), "orders/create"))
    # then
    assert response.status_code == 200
    assert restocks(session) == []
