"""GET /api/overview: the numbers a test set up, from the counters, the same after pruning."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from plugin import clock
from plugin.clock import utcnow
from plugin.links.tokens import click_url
from plugin.models import Decision, Notification, ShopDay
from plugin.privacy.retention import prune_history
from tests.dispatch.builders import VARIANT_ID
from tests.doubles.shopify_admin import DEMO_SHOP, install_shop_directly
from tests.measurement.dashboard_builders import get_overview, money, order, sign_up, told_and_bought

OTHER_SHOP = "other-shop.myshopify.com"


def _today(shop_timezone="America/New_York"):
    from zoneinfo import ZoneInfo
    return utcnow().astimezone(ZoneInfo(shop_timezone)).date()


def test_overview_is_what_happened_in_this_shop_only(
        shopify_admin, installed_shop, runtime, app, client, app_config, session):
    # given 4 shoppers told and 3 of them buying at 49.00 here, 2 more waiting for another variant;
    # and in another shop 5 told, 1 bought
    told_and_bought(app, client, session, runtime, installed_shop, told=4, bought=3)
    sign_up(session, runtime, installed_shop, ["wait1@gmail.com", "wait2@gmail.com"], variant_id=44002)
    other = install_shop_directly(runtime, shopify_admin, OTHER_SHOP)
    told_and_bought(app, client, session, runtime, other, told=5, bought=1, price="10.00", prefix="else")

    # when
    response = get_overview(client, app_config, DEMO_SHOP)

    # then
    assert response.status_code == 200
    body = response.get_json()
    today = _today().isoformat()
    assert {k: v for k, v in body.items() if k != "trend"} == {
        "shop": DEMO_SHOP, "since": today, "until": today, "waiting": 2, "subscribed": 6, "notified": 4,
        "delivered": 0, "opened": 0, "clicked": 0, "purchased": 3, "revenue": money("147.00"),
        "conversion_rate": 0.75, "click_rate": 0.0, "median_time_to_purchase_seconds": 0}
    assert body["trend"] == [{"date": today, "subscribed": 6, "notified": 4, "clicked": 0, "purchased": 3,
                              "revenue": "147.00"}]
    other_body = get_overview(client, app_config, OTHER_SHOP).get_json()
    assert (other_body["notified"], other_body["purchased"], other_body["revenue"]) == (5, 1, money("10.00"))


def test_the_numbers_are_the_same_after_retention_prunes_the_raw_rows(
        shopify_admin, installed_shop, runtime, app, client, app_config, session):
    # given 3 told, 2 bought (one of them after clicking the tracked link), today
    emails = told_and_bought(app, client, session, runtime, installed_shop, told=3, bought=2)
    first_notice = session.scalar(select(Notification.id).order_by(Notification.id))
    client.get(click_url(app_config["app_url"], runtime.settings.link_secret, first_notice))
    day = _today().isoformat()
    before = get_overview(client, app_config, DEMO_SHOP, since=day, until=day).get_json()

    # when, 100 days later, retention (90 days) deletes the notices and the decision log
    with clock.travel(timedelta(days=100)):
        pruned = prune_history(runtime.db, timedelta(days=runtime.settings.retention_days))

    # then the raw rows are gone and every number for that day is unchanged
    assert pruned["notifications"] == 3
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert session.scalar(select(func.count()).select_from(Decision)) == 0
    after = get_overview(client, app_config, DEMO_SHOP, since=day, until=day).get_json()
    assert after == before
    assert (after["notified"], after["clicked"], after["purchased"], after["revenue"]) == (3, 1, 2, money("98.00"))
    assert len(emails) == 3


def test_a_cancelled_order_leaves_the_numbers(shopify_admin, installed_shop, runtime, app, client, app_config,
                                              session):
    # given two told, one bought
    emails = told_and_bought(app, client, session, runtime, installed_shop, told=2, bought=0)
    order_id = order(client, installed_shop, emails[0], "49.00")
    # when the order is cancelled
    from tests.webhooks.delivery import deliver
    cancelled = {"id": order_id, "email": emails[0], "currency": "USD", "created_at": utcnow().isoformat(),
                 "cancelled_at": utcnow().isoformat(), "cancel_reason": "customer", "discount_codes": [],
                 "line_items": [{"id": 1, "variant_id": VARIANT_ID, "quantity": 1, "price": "49.00"}]}
    assert deliver(client, "orders/cancelled", cancelled).status_code == 200
    # then
    body = get_overview(client, app_config, DEMO_SHOP).get_json()
    assert (body["notified"], body["purchased"], body["revenue"], body["conversion_rate"]) == (
        2, 0, money("0.00"), 0.0)
    assert body["median_time_to_purchase_seconds"] is None


def test_median_time_to_purchase(shopify_admin, installed_shop, runtime, app, client, app_config, session):
    # given three told shoppers buying 30 minutes, 2 hours and 3 days after the notice
    emails = told_and_bought(app, client, session, runtime, installed_shop, told=3, bought=0)
    sent_at = session.scalar(select(func.max(Notification.sent_at)))
    for email, after in zip(emails, (timedelta(minutes=30), timedelta(hours=2), timedelta(days=3))):
        order(client, installed_shop, email, "49.00", placed=sent_at + after + timedelta(seconds=5))
    # when
    body = get_overview(client, app_config, DEMO_SHOP, until=(_today() + timedelta(days=3)).isoformat()).get_json()
    # then the middle one
    assert body["median_time_to_purchase_seconds"] == 2 * 3600
    assert body["purchased"] == 3


def test_waiting_is_the_level_at_the_end_of_the_range(shopify_admin, installed_shop, runtime, app, client,
                                                      app_config, session):
    # given two shoppers who signed up 10 days ago, one told today
    with clock.travel(-timedelta(days=10)):
        sign_up(session, runtime, installed_shop, ["early@gmail.com"], variant_id=44002)
        sign_up(session, runtime, installed_shop, ["early2@gmail.com"], variant_id=44003)
    from tests.dispatch.builders import make_variant
    from tests.measurement.dashboard_builders import tell
    make_variant(session, installed_shop, variant_id=44002)
    tell(app, session, installed_shop, variant_id=44002)
    # when
    ten_days_ago = (_today() - timedelta(days=10)).isoformat()
    then = get_overview(client, app_config, DEMO_SHOP, until=ten_days_ago).get_json()
    now = get_overview(client, app_config, DEMO_SHOP).get_json()
    # then
    assert (then["waiting"], then["subscribed"], then["notified"]) == (2, 2, 0)
    assert (now["waiting"], now["subscribed"], now["notified"], now["since"]) == (1, 2, 1, ten_days_ago)
    assert len(now["trend"]) == 11


def test_bad_dates_are_422_naming_the_field_and_count_nothing(installed_shop, client, app_config, session):
    # when
    cases = {"since": {"since": "2026-13-01"}, "until": {"until": "yesterday"}}
    answers = {field: get_overview(client, app_config, DEMO_SHOP, **params) for field, params in cases.items()}
    reversed_range = get_overview(client, app_config, DEMO_SHOP, since="2026-02-02", until="2026-02-01")
    unknown = get_overview(client, app_config, DEMO_SHOP, sinse="2026-02-02")
    # then
    for field, response in answers.items():
        assert response.status_code == 422
        assert response.get_json()["error"]["field"] == field
    assert (reversed_range.status_code, reversed_range.get_json()["error"]["field"]) == (422, "since")
    assert (unknown.status_code, unknown.get_json()["error"]["field"]) == (422, "sinse")
    assert session.scalar(select(func.count()).select_from(ShopDay)) == 0
