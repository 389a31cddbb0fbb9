"""The whole loop on PostgreSQL + Redis with a real Celery worker and the provider doubles.

Shoppers subscribe through the signed app proxy; Shopify (the Admin API double) restocks the
variant and sends a signed ``inventory_levels/update``; the worker re-reads the variant, detects the
crossing and dispatches; the SendGrid double receives — and validates — exactly one message per
shopper. Repeating the webhook, under its old id or a new one, sends nothing more.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from plugin.models import Decision, Notification, RestockEvent, Variant
from tests.doubles.app_proxy import signed_proxy_url
from tests.doubles.worker import wait_for
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

pytestmark = [pytest.mark.worker, pytest.mark.pg_only]

VARIANT, PRODUCT, ITEM = 642667041472713922, 788032119674292922, 271878346596884015
WAREHOUSE, STORE = 24826418, 53716844710
SHOPPERS = 12


def _count(runtime, model, *where) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _restock_sources(runtime) -> list[str]:
    with runtime.db.session() as s:
        return list(s.scalars(select(RestockEvent.source).order_by(RestockEvent.id)))


def _mirrored_quantity(runtime) -> int | None:
    with runtime.db.session() as s:
        variant = s.scalar(select(Variant).where(Variant.variant_id == VARIANT))
        return None if variant is None or variant.synced_at is None else variant.available


def _settle(celery_worker, app) -> None:
    """Wait until the worker has drained its queue, then a little longer for the task in hand."""
    wait_for(lambda: celery_worker.queue_length() == 0, timeout=30, worker=celery_worker)
    time.sleep(1.5)


def _subscribe_shoppers(client) -> list[str]:
    emails = [f"shopper{n}@gmail.com" for n in range(SHOPPERS)]
    for n, email in enumerate(emails):
        # Each shopper from their own address, as Shopify's proxy reports it.
        response = client.post(
            signed_proxy_url("subscriptions", DEMO_SHOP, "hush"),
            json={"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": email, "locale": "en"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        assert response.status_code == 201, response.get_json()
    return emails


def test_signed_restock_webhook_notifies_every_waiting_shopper_exactly_once(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, installed_shop
):
    # given a sold-out variant with N shoppers waiting (subscribed through the app proxy; the
    # worker mirrors the variant from the Admin API after the first subscription)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, product_id=PRODUCT, inventory_item_id=ITEM,
                              levels={WAREHOUSE: 0, STORE: 0}, product_title="Aviator sunglasses",
                              handle="aviator-sunglasses", title="Pink")
    emails = _subscribe_shoppers(client)
    wait_for(lambda: _mirrored_quantity(runtime) == 0, timeout=30, worker=celery_worker)
    # (every subscription asked for a re-read; let them finish so none of them sees the restock)
    _settle(celery_worker, app)

    # when stock arrives at the warehouse and Shopify sends the signed webhook
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 5)
    payload = level_payload(ITEM, WAREHOUSE, 5)
    response = deliver(client, "inventory_levels/update", payload, webhook_id="restock-1")

    # then the webhook is accepted and each shopper gets exactly one valid message
    assert response.status_code == 200
    wait_for(lambda: len(sendgrid.messages) >= SHOPPERS, timeout=60, worker=celery_worker)
    _settle(celery_worker, app)
    assert sorted(sendgrid.recipients()) == sorted(emails)
    assert sendgrid.validation_failures == []
    assert all(r["status"] == 202 for r in sendgrid.requests)
    assert all(m["subject"] and "Aviator sunglasses" in m["subject"] for m in sendgrid.messages)
    assert all(f"{DEMO_SHOP}" in m["text"] or "/r/" in m["text"] for m in sendgrid.messages)
    # … and the restock was declared from this webhook, not from a later Admin API re-read
    assert _restock_sources(runtime) == ["webhook"]
    assert _count(runtime, Notification, Notification.status == "sent") == SHOPPERS
    assert _count(runtime, Decision, Decision.decision == "sent") == SHOPPERS

    # when Shopify repeats the delivery (same id), and then sends it again under a new id
    assert deliver(client, "inventory_levels/update", payload, webhook_id="restock-1").status_code == 200
    assert deliver(client, "inventory_levels/update", payload, webhook_id="restock-1-retry").status_code == 200
    _settle(celery_worker, app)

    # then nothing more is sent and no second restock is recorded
    assert len(sendgrid.messages) == SHOPPERS
    assert _count(runtime, RestockEvent) == 1
    assert sendgrid.validation_failures == []


def test_stock_at_an_uncounted_location_does_not_notify(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, installed_shop
):
    # given the merchant counts only the warehouse
    with runtime.db.session() as s:
        shop = s.merge(installed_shop)
        shop.settings = {**(shop.settings or {}), "counted_location_ids": [WAREHOUSE]}
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, product_id=PRODUCT, inventory_item_id=ITEM,
                              levels={WAREHOUSE: 0, STORE: 0})
    _subscribe_shoppers(client)
    wait_for(lambda: _mirrored_quantity(runtime) == 0, timeout=30, worker=celery_worker)

    # when units arrive at the retail store only
    shopify_admin.set_level(DEMO_SHOP, ITEM, STORE, 7)
    response = deliver(client, "inventory_levels/update", level_payload(ITEM, STORE, 7))
    _settle(celery_worker, app)

    # then nobody is told and no restock exists
    assert response.status_code == 200
    assert sendgrid.messages == []
    assert _count(runtime, RestockEvent) == 0
