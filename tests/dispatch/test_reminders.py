"""Reminders: one follow-up ``reminder_hours`` after the restock notice to shoppers who have not
bought, while the variant is still in stock (re-read through the Admin API first)."""

from __future__ import annotations

from datetime import timedelta

from plugin import clock
from plugin.models import Decision, Notification
from tests.dispatch.release_helpers import (
    ITEM, VARIANT, WAREHOUSE, decisions, email, outbox, restock, run_release_job, set_settings, sold_out_variant,
    waiting_shoppers,
)
from tests.webhooks.delivery import DEMO_SHOP, deliver

DUE = timedelta(hours=24, minutes=1)


def _order(order_id: int, buyer: str) -> dict:
    return {"id": order_id, "name": f"#{order_id}", "email": buyer, "currency": "USD",
            "created_at": clock.utcnow().isoformat(), "customer": None, "discount_codes": [],
            "line_items": [{"id": 1, "variant_id": VARIANT, "product_id": VARIANT + 1_000_000, "quantity": 1,
                            "price": "25.00", "total_discount": "0.00"}]}


def _told(shopify_admin, installed_shop, client, runtime, session, app_config, units: int = 20) -> list[int]:
    set_settings(runtime, reminder_hours=24, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 3)
    restock(client, shopify_admin, units)
    assert [line["kind"] for line in outbox(app_config)] == ["restock"] * 3
    return subscriptions


def test_told_and_bought_gets_no_reminder_told_not_bought_in_stock_gets_exactly_one(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given three shoppers told; shopper 0 then buys the variant
    subscriptions = _told(shopify_admin, installed_shop, client, runtime, session, app_config)
    with clock.travel(timedelta(hours=2)):
        assert deliver(client, "orders/create", _order(5001, email(0))).status_code == 200

    # when the release job runs a day later (twice, as the scheduler would)
    run_release_job(app, after=DUE)
    run_release_job(app, after=DUE + timedelta(minutes=1))

    # then shoppers 1 and 2 get one reminder each, shopper 0 none, and the log says why
    reminders = [line for line in outbox(app_config) if line["kind"] == "reminder"]
    assert [line["to"] for line in reminders] == [email(1), email(2)]
    assert reminders[0]["subject"] == "Linen Shirt is still available at Backbell Demo"
    assert decisions(runtime, Decision.decision.like("no reminder%")) == [(subscriptions[0], "no reminder: bought")]


def test_a_reminder_for_a_variant_running_low_says_how_many_are_left(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given three shoppers told; two units are left a day later
    _told(shopify_admin, installed_shop, client, runtime, session, app_config)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 2)

    # when
    run_release_job(app, after=DUE)

    # then
    reminders = [line for line in outbox(app_config) if line["kind"] == "reminder"]
    assert [line["subject"] for line in reminders] == ["Only 2 left: Linen Shirt at Backbell Demo"] * 3
    assert "Only 2 of Linen Shirt (Blue) left at Backbell Demo." in reminders[0]["text"]


def test_no_reminder_once_the_variant_is_sold_out(shopify_admin, installed_shop, app, client, runtime, session,
                                                  app_config):
    # given three shoppers told; the variant sold out since
    subscriptions = _told(shopify_admin, installed_shop, client, runtime, session, app_config)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 0)

    # when
    run_release_job(app, after=DUE)

    # then nobody is reminded, nothing waits to be, and each shopper has the reason
    assert [line["kind"] for line in outbox(app_config)] == ["restock"] * 3
    assert decisions(runtime, Decision.decision.like("no reminder%")) == [
        (s, "no reminder: sold out or not on sale") for s in subscriptions]
    with runtime.db.session() as s:
        assert s.query(Notification).filter(Notification.remind_at.is_not(None)).count() == 0
        assert s.query(Notification).filter(Notification.kind == "reminder").count() == 0


def test_before_reminder_hours_have_passed_nothing_is_sent(shopify_admin, installed_shop, app, client, runtime,
                                                           session, app_config):
    # given
    _told(shopify_admin, installed_shop, client, runtime, session, app_config)
    reads = len(shopify_admin.graphql_requests("VariantStock"))

    # when the release job runs 23 hours on
    run_release_job(app, after=timedelta(hours=23))

    # then nothing is sent and Shopify is not even asked
    assert [line["kind"] for line in outbox(app_config)] == ["restock"] * 3
    assert len(shopify_admin.graphql_requests("VariantStock")) == reads
