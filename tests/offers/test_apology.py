"""Stock-out cancellations won back: an order cancelled for lack of stock earns one apology in the
order's language, with a personal code made in Shopify and a working "tell me when it's back"
link per cancelled variant; a cancellation for any other reason earns nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select

from plugin.models import Notification, Subscription
from plugin.offers.apology import APOLOGY_CONSENT_VERSION
from plugin.offers.tasks import offers_sweep
from tests.offers.builders import outbox_lines
from tests.webhooks.delivery import DEMO_SHOP, deliver

ORDER_ID, SHIRT, SOCKS = 820982911946154508, 47001, 47002


def _cancelled(reason: str) -> dict:
    return {"id": ORDER_ID, "cancel_reason": reason, "cancelled_at": "2026-01-02T10:00:00-05:00",
            "created_at": "2026-01-01T10:00:00-05:00", "email": "Jon.Snow@Example.com", "currency": "USD",
            "customer_locale": "fr-CA", "customer": {"id": 115310627314723954},
            "line_items": [{"id": 1, "variant_id": SHIRT, "product_id": 9001, "title": "Linen Shirt", "quantity": 1,
                            "price": "49.00"},
                           {"id": 2, "variant_id": SOCKS, "product_id": 9002, "title": "Wool Socks", "quantity": 2,
                            "price": "9.00"}]}


def test_an_inventory_cancellation_gets_one_apology_with_a_code_and_two_subscribe_links(
        app, app_config, client, runtime, session, shopify_admin, installed_shop):
    # given / when the order is cancelled for lack of stock (twice: Shopify retries), and the beat runs
    for webhook_id in ("cancel-1", "cancel-1-again"):
        assert deliver(client, "orders/cancelled", _cancelled("inventory"), webhook_id=webhook_id).status_code == 200
    with app.app_context():
        offers_sweep.delay()

    # then one apology in French, with a code Shopify has for the two products
    (line,) = outbox_lines(app_config)
    assert (line["kind"], line["to"], line["locale"]) == ("apology", "jon.snow@example.com", "fr")
    (discount,) = shopify_admin.offers(DEMO_SHOP).discounts.values()
    assert discount.codes == [line["discount_code"]]
    assert (discount.percent, sorted(discount.product_ids), discount.usage_limit) == (0.1, [9001, 9002], 1)
    assert line["discount_code"] in line["text"] and line["expires_at"] is not None
    links = [word for word in line["text"].split() if "/s/" in word]
    assert len(links) == 2

    # when the shopper clicks both links (the second twice)
    answers = [client.get(urlsplit(url).path) for url in [*links, links[1]]]

    # then both variants are waited for, with consent recorded by the click
    assert [a.status_code for a in answers] == [200, 200, 200]
    session.expire_all()
    waiting = session.execute(select(Subscription.variant_id, Subscription.consent_version, Subscription.locale)
                              .where(Subscription.status == "waiting").order_by(Subscription.variant_id)).all()
    assert waiting == [(SHIRT, APOLOGY_CONSENT_VERSION, "fr"), (SOCKS, APOLOGY_CONSENT_VERSION, "fr")]


def test_a_cancellation_for_another_reason_sends_nothing(app, app_config, client, runtime, session, shopify_admin,
                                                         installed_shop):
    # given / when
    assert deliver(client, "orders/cancelled", _cancelled("customer")).status_code == 200
    with app.app_context():
        offers_sweep.delay()

    # then
    assert outbox_lines(app_config) == []
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert session.scalar(select(func.count()).select_from(Subscription)) == 0
    assert shopify_admin.offers(DEMO_SHOP).discounts == {}

