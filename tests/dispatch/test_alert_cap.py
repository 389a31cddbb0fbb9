"""The cap on re-enrolment: a shopper told at ``max_alerts_per_subscription`` restocks without
buying is closed at the next one — not told again, with the reason in the decision log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from plugin import clock
from plugin.dispatch.alert_cap import closed_decision
from plugin.models import Decision, RestockEvent, Subscription
from tests.dispatch.release_helpers import (
    decisions, email, events, outbox, restock, set_settings, sold_out_variant, statuses, waiting_shoppers,
)
from tests.dispatch.test_double_opt_in import _subscribe
from tests.doubles.shopify_admin import DEMO_SHOP, make_session_token

LATER = timedelta(minutes=45)  # past the default cool-down (30)


def _overview(client, app_config, hours: int) -> tuple[int, int, int]:
    """The overview as the merchant reads it just after the restock ``hours`` from now (the
    counters are per shop day: read at "now", a later restock may fall on the shop's next day)."""
    with clock.travel(timedelta(hours=hours) + LATER):
        token = make_session_token(DEMO_SHOP, app_config["shopify_api_key"], app_config["shopify_api_secret"])
        numbers = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"}).get_json()
    return numbers["waiting"], numbers["subscribed"], numbers["notified"]


def _restock_later(client, shopify_admin, hours: int, units: int) -> None:
    """Sold out, then back ``units``, ``hours`` from now (each step past the cool-down)."""
    with clock.travel(timedelta(hours=hours)):
        restock(client, shopify_admin, 0)
    with clock.travel(timedelta(hours=hours) + LATER):
        restock(client, shopify_admin, units)


def test_told_n_times_without_buying_the_next_restock_closes_them_with_the_reason(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given a limit of 2 alerts and 2 shoppers who signed up on the storefront
    set_settings(runtime, max_alerts_per_subscription=2, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    assert [_subscribe(client, email(p), p + 1).status_code for p in (0, 1)] == [201, 201]
    subscriptions = list(session.scalars(select(Subscription.id).order_by(Subscription.id)))

    # when the variant comes back twice, and neither buys
    restock(client, shopify_admin, 5)
    _restock_later(client, shopify_admin, 1, 5)

    # then both were told twice, and nobody waits
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1)] * 2
    assert _overview(client, app_config, 1) == (0, 2, 4)

    # when a third shopper signs up and the variant comes back a third time
    assert _subscribe(client, email(2), 3).status_code == 201
    newcomer = session.scalar(select(Subscription.id).order_by(Subscription.id.desc()))
    _restock_later(client, shopify_admin, 2, 5)

    # then only the newcomer is told; the two are closed, each with the reason, for this restock
    assert [line["to"] for line in outbox(app_config)][4:] == [email(2)]
    assert statuses(runtime, [*subscriptions, newcomer]) == ["closed", "closed", "notified"]
    third = events(runtime)[-1].id
    reason = closed_decision(2)
    assert reason == "closed: told 2 times without buying"
    assert decisions(runtime, Decision.decision == reason, Decision.restock_event_id == third) == [
        (s, reason) for s in subscriptions]
    assert _overview(client, app_config, 2) == (0, 3, 5)

    # when it comes back a fourth time: the closed shoppers are not told (nor logged) again
    _restock_later(client, shopify_admin, 3, 5)
    assert [line["to"] for line in outbox(app_config)][5:] == [email(2)]
    assert len(decisions(runtime, Decision.decision == reason)) == 2


def test_no_limit_keeps_enrolling_the_shoppers_who_did_not_buy(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given no limit
    set_settings(runtime, max_alerts_per_subscription=None, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 1)

    # when the variant comes back four times
    restock(client, shopify_admin, 5)
    for hours in (1, 2, 3):
        _restock_later(client, shopify_admin, hours, 5)

    # then the shopper was told each time, and the count of alerts says so
    assert [line["to"] for line in outbox(app_config)] == [email(0)] * 4
    assert statuses(runtime, subscriptions) == ["notified"]
    with runtime.db.session() as s:
        assert s.scalar(select(Subscription.alerts_sent)) == 4
        assert s.scalar(select(RestockEvent.id).order_by(RestockEvent.id.desc())) == 4
