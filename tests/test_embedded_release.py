"""The batch scenario on the embedded default (no Redis: tasks in-process, the outbox channel),
through the HTTP surface only: shoppers subscribe through the signed app proxy (VIPs logged in),
the merchant's setting goes through ``PATCH /api/settings``, Shopify restocks and sends signed
webhooks, and the in-process scheduler that ``backbell serve`` starts
(``plugin.schedule.InProcessScheduler``) runs the release job — on a moved clock."""

from __future__ import annotations

import time
from datetime import timedelta

from plugin import clock
from plugin.models import Decision, Subscription
from plugin.schedule import InProcessScheduler, Job
from tests.dispatch.release_helpers import (
    FIRST_CUSTOMER, ITEM, RELEASE_JOB, VARIANT, WAREHOUSE, count, decisions, email, events, outbox,
)
from tests.doubles.app_proxy import signed_proxy_url
from tests.doubles.shopify_admin import make_session_token
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

VIPS = (6, 9)


def _subscribe(client, shopify_admin) -> None:
    for position in range(10):
        customer = FIRST_CUSTOMER + position
        shopify_admin.add_customer(DEMO_SHOP, customer, ["VIP"] if position in VIPS else [])
        response = client.post(
            signed_proxy_url("subscriptions", DEMO_SHOP, "hush", logged_in_customer_id=customer),
            json={"variant_id": f"gid://shopify/ProductVariant/{VARIANT}", "email": email(position)},
            headers={"X-Forwarded-For": f"203.0.113.{position + 1}"})
        assert response.status_code == 201, response.get_json()


def _restock(client, shopify_admin, units: int) -> None:
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, units)
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, units)).status_code == 200


def _run_scheduler_until(app, condition, timeout: float = 10) -> None:
    """The in-process scheduler of ``backbell serve``, ticking fast, until ``condition`` holds."""
    job = Job(RELEASE_JOB.name, RELEASE_JOB.task, timedelta(seconds=0.2))
    scheduler = InProcessScheduler(app.extensions["celery"], (job,), tick_seconds=0.05)
    scheduler.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not condition():
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert condition()


def test_batches_by_stock_on_the_embedded_default_through_http_only(
        shopify_admin, installed_shop, app, client, runtime, app_config):
    # given a sold-out variant in Shopify, the merchant's VIP tag, and 10 shoppers subscribed
    # through the app proxy (the first subscription mirrors the variant)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0},
                              product_title="Linen Shirt", handle="linen-shirt", title="Blue")
    token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
    settings = client.patch("/api/settings", json={"vip_tags": ["VIP"]}, headers={"Authorization": f"Bearer {token}"})
    assert settings.status_code == 200
    _subscribe(client, shopify_admin)

    # when 2 units come back
    _restock(client, shopify_admin, 2)

    # then 6 are told, VIPs first
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in (6, 9, 0, 1, 2, 3)]

    # when the variant sells out and the scheduler runs after the batch interval
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 0)
    with clock.travel(timedelta(minutes=16)):
        _run_scheduler_until(app, lambda: count(runtime, Decision, Decision.decision == "skipped: sold out again") == 4)

    # then nobody more is told; the 4 keep waiting
    assert len(outbox(app_config)) == 6
    assert count(runtime, Subscription, Subscription.status == "waiting") == 4
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]

    # when 10 units come back later
    with clock.travel(timedelta(minutes=45)):
        _restock(client, shopify_admin, 10)

    # then those 4 are told first, at once, and then the 6 told before who did not buy
    assert [line["to"] for line in outbox(app_config)][6:] == [email(p) for p in (4, 5, 7, 8, 6, 9, 0, 1, 2, 3)]
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None), ("done", None)]
    assert decisions(runtime, Decision.decision == "not VIP: customer tags unreadable") == []
