"""Double opt-in: a ``confirm`` notice with a signed link; an unconfirmed subscription is never
told of a restock and expires after 7 days."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

from sqlalchemy import select

from plugin.models import Decision, Subscription
from tests.dispatch.release_helpers import (
    ITEM, VARIANT, WAREHOUSE, decisions, outbox, restock, run_release_job, set_settings,
)
from tests.doubles.app_proxy import signed_proxy_url
from tests.webhooks.delivery import DEMO_SHOP


def _subscribe(client, address: str, number: int = 1):
    return client.post(signed_proxy_url("subscriptions", DEMO_SHOP, "hush"),
                       json={"variant_id": VARIANT, "email": address},
                       headers={"X-Forwarded-For": f"203.0.113.{number}"})


def _confirm_path(app_config, address: str) -> str:
    line = next(line for line in outbox(app_config) if line["to"] == address and line["kind"] == "confirm")
    return urlparse(line["url"]).path


def _statuses(runtime) -> list[tuple[str, bool]]:
    with runtime.db.session() as s:
        return [(sub.status, sub.confirm_by is not None)
                for sub in s.scalars(select(Subscription).order_by(Subscription.id))]


def test_a_new_subscription_gets_a_confirm_notice_and_only_confirmed_shoppers_are_told(
        shopify_admin, installed_shop, app, client, runtime, app_config):
    # given a shop asking for double opt-in, a sold-out variant and two shoppers who subscribe
    set_settings(runtime, double_opt_in=True)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0})
    assert _subscribe(client, "ada@gmail.com", 1).status_code == 201
    assert _subscribe(client, "bob@gmail.com", 2).status_code == 201

    # then each gets one confirm notice with a signed link; both wait unconfirmed
    lines = outbox(app_config)
    assert [(line["to"], line["kind"]) for line in lines] == [("ada@gmail.com", "confirm"), ("bob@gmail.com", "confirm")]
    assert lines[0]["subject"] == "Confirm your back-in-stock alert from Backbell Demo"
    assert _confirm_path(app_config, "ada@gmail.com").startswith("/c/")
    assert _statuses(runtime) == [("waiting", True), ("waiting", True)]

    # when Ada opens the link (a page) and confirms (its button)
    path = _confirm_path(app_config, "ada@gmail.com")
    page = client.get(path)
    confirmed = client.post(path)

    # then she is confirmed; Bob is not
    assert page.status_code == 200 and b"<form method=\"post\">" in page.data
    assert confirmed.status_code == 200 and b"Confirmed" in confirmed.data
    assert _statuses(runtime) == [("waiting", False), ("waiting", True)]

    # when the variant comes back
    restock(client, shopify_admin, 5)

    # then only Ada is told
    assert [(line["to"], line["kind"]) for line in outbox(app_config)][2:] == [("ada@gmail.com", "restock")]
    assert _statuses(runtime) == [("notified", False), ("waiting", True)]


def test_following_the_link_twice_or_a_forged_link_confirms_nothing_more(
        shopify_admin, installed_shop, app, client, runtime, app_config):
    # given a confirmed subscription
    set_settings(runtime, double_opt_in=True)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0})
    _subscribe(client, "ada@gmail.com")
    path = _confirm_path(app_config, "ada@gmail.com")
    client.post(path)

    # when
    again = client.post(path)
    forged = client.post(path[:-3] + "xyz")

    # then
    assert again.status_code == 200 and b"Nothing to confirm" in again.data
    assert forged.status_code == 400
    assert [d for _, d in decisions(runtime, Decision.decision == "confirmed")] == ["confirmed"]


def test_an_unconfirmed_subscription_expires_after_seven_days_and_the_shopper_may_sign_up_again(
        shopify_admin, installed_shop, app, client, runtime, app_config):
    # given an unconfirmed subscription
    set_settings(runtime, double_opt_in=True)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0})
    _subscribe(client, "ada@gmail.com")

    # when the release job runs six days on, then seven days and a minute on
    run_release_job(app, after=timedelta(days=6))
    assert _statuses(runtime) == [("waiting", True)]
    run_release_job(app, after=timedelta(days=7, minutes=1))

    # then it expired, the log says so, and the old link confirms nothing
    assert _statuses(runtime) == [("expired", False)]
    assert [d for _, d in decisions(runtime, Decision.decision.like("expired%"))] == [
        "expired: not confirmed within 7 days"]
    assert b"Nothing to confirm" in client.post(_confirm_path(app_config, "ada@gmail.com")).data

    # when she subscribes again
    again = _subscribe(client, "ada@gmail.com")

    # then a new subscription waits for its own confirmation
    assert again.status_code == 201
    assert _statuses(runtime) == [("expired", False), ("waiting", True)]
    assert [line["kind"] for line in outbox(app_config)] == ["confirm", "confirm"]


def test_without_double_opt_in_nobody_is_asked_to_confirm(shopify_admin, installed_shop, app, client, runtime,
                                                          app_config):
    # given the default (off)
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0})

    # when
    assert _subscribe(client, "ada@gmail.com").status_code == 201

    # then
    assert outbox(app_config) == []
    assert _statuses(runtime) == [("waiting", False)]
