"""Personal codes against the schema-validating Shopify double: one discount per restock, one
distinct code per told shopper added before anybody is told, and userErrors that end in notices
without codes only after the retries — with the reason in the decision log."""

from __future__ import annotations

from sqlalchemy import select

from plugin.dispatch.tasks import dispatch_restock
from plugin.models import Discount
from plugin.offers.batch import NO_CODE
from plugin.offers.shopify_calls import RETRY_DELAYS
from tests.offers.builders import PRODUCT, decisions, offer_shop, outbox_lines, restock
from tests.webhooks.delivery import DEMO_SHOP


def test_a_restock_with_codes_creates_one_discount_and_one_code_per_told_shopper_before_sending(
        app, app_config, runtime, session, shopify_admin, installed_shop):
    # given codes on, 3 units back and 4 shoppers waiting
    emails = offer_shop(runtime, session, shopify_admin, installed_shop, units=3, shoppers=4,
                        discount_percent=15, discount_expires_hours=48)
    event_id = restock(session, installed_shop.id, units=3)
    sent_while_talking_to_shopify = []
    shopify_admin.on_graphql = lambda: sent_while_talking_to_shopify.append(len(outbox_lines(app_config)))

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)

    # then Shopify has one discount for the product, ending at the expiry, with one code per shopper
    offers = shopify_admin.offers(DEMO_SHOP)
    (discount,) = offers.discounts.values()
    assert (discount.percent, discount.product_ids, discount.usage_limit, discount.once_per_customer) == (
        0.15, [PRODUCT], 1, True)
    personal = discount.codes[1:]  # the first is the discount's own code, given to nobody
    assert len(personal) == 4 == len(set(personal))
    # … added (and polled to done) before any notice was written
    assert set(sent_while_talking_to_shopify) == {0}
    lines = outbox_lines(app_config)
    assert sorted(line["to"] for line in lines) == sorted(emails)
    assert sorted(line["discount_code"] for line in lines) == sorted(personal)
    row = session.scalar(select(Discount))
    assert all(line["expires_at"] == row.ends_at.isoformat().replace("+00:00", "Z") for line in lines)
    assert discount.ends_at == row.ends_at.isoformat().replace("+00:00", "Z")
    # … and each notice says its own code
    assert all(line["discount_code"] in line["text"] and "15% off" in line["text"] for line in lines)
    assert [r["operation"] for r in shopify_admin.graphql_requests()].count("DiscountCodeBasicCreate") == 1


def test_user_errors_show_in_the_decision_log_and_the_batch_goes_without_codes_after_the_retries(
        app, app_config, runtime, session, shopify_admin, installed_shop):
    # given Shopify refuses every attempt to add the codes
    offer_shop(runtime, session, shopify_admin, installed_shop, units=2, shoppers=2, discount_percent=10)
    event_id = restock(session, installed_shop.id, units=2)
    shopify_admin.refuse_next(DEMO_SHOP, "discountRedeemCodeBulkAdd", n=len(RETRY_DELAYS) + 1,
                              message="Codes limit reached")

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)

    # then it tried as often as the retries allow, and still told both shoppers, without codes
    assert len(shopify_admin.graphql_requests("DiscountRedeemCodeBulkAdd")) == len(RETRY_DELAYS) + 1
    lines = outbox_lines(app_config)
    assert [line["discount_code"] for line in lines] == [None, None]
    assert all("% off" not in line["text"] for line in lines)
    # … and the merchant's log says why, for each notice
    missing = decisions(session, NO_CODE)
    assert len(missing) == 2
    assert all("Codes limit reached" in d.detail["reason"] for d in missing)
    assert sorted(d.notification_id for d in missing) == sorted(line["notification_id"] for line in lines)
    assert [d.decision for d in decisions(session, "sent")] == ["sent", "sent"]
    (discount,) = shopify_admin.offers(DEMO_SHOP).discounts.values()
    assert discount.codes[1:] == []

