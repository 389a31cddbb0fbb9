"""The merchant digest: most wanted, waitlists past the threshold, low stock — by email, when due."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from plugin import clock
from plugin.measurement.tasks import send_digests
from plugin.models import Shop
from tests.dispatch.builders import make_variant
from tests.measurement.dashboard_builders import sign_up


def _outbox(app_config) -> list[dict]:
    path = app_config["outbox_path"] / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _send(app):
    with app.app_context():
        send_digests.delay()


def _shop_with_demand(session, runtime, shop, **settings):
    session.execute(update(Shop).values(contact_email="owner@shop.test", settings=settings))
    make_variant(session, shop, variant_id=1, available=0, product_title="Linen Shirt", title="Blue / M")
    make_variant(session, shop, variant_id=2, available=2, product_title="Wool Hat", title="Default Title")
    sign_up(session, runtime, shop, [f"a{i}@gmail.com" for i in range(12)], variant_id=1)
    sign_up(session, runtime, shop, [f"b{i}@gmail.com" for i in range(5)], variant_id=2)


def test_a_daily_digest_tells_the_merchant_what_is_wanted(shopify_admin, installed_shop, runtime, app, app_config,
                                                         session):
    # given 12 waiting for a sold-out shirt (threshold 10), 5 for a hat with 2 in stock
    _shop_with_demand(session, runtime, installed_shop, digest="daily")

    # when
    _send(app)

    # then
    (line,) = _outbox(app_config)
    assert (line["to"], line["kind"], line["channel"], line["shop"]) == (
        "owner@shop.test", "digest", "email", installed_shop.domain)
    assert line["subject"] == "Backbell daily digest: 17 shoppers waiting"
    assert line["text"].splitlines()[1:] == [
        "", "Most wanted:", "- Linen Shirt (Blue / M) — 12 waiting", "- Wool Hat — 5 waiting",
        "", "Waitlists that grew past your threshold:", "- Linen Shirt (Blue / M) — 12 waiting",
        "", "Low stock: fewer units than shoppers waiting:", "- Wool Hat — 2 in stock, 5 waiting"]


def test_the_next_digest_waits_its_period_and_leaves_out_old_crossings(shopify_admin, installed_shop, runtime, app,
                                                                       app_config, session):
    # given a weekly digest sent today
    _shop_with_demand(session, runtime, installed_shop, digest="weekly")
    _send(app)

    # when the beat runs again the same day, and then 8 days later
    _send(app)
    with clock.travel(timedelta(days=8)):
        _send(app)

    # then two digests; the second has no crossing (the shirt was already past 10)
    lines = _outbox(app_config)
    assert len(lines) == 2
    assert "past your threshold" not in lines[1]["text"]


def test_no_digest_when_off_or_without_an_address(shopify_admin, installed_shop, runtime, app, app_config, session):
    # given the digest turned off
    _shop_with_demand(session, runtime, installed_shop, digest=None)
    # when
    _send(app)
    session.execute(update(Shop).values(contact_email=None, settings={"digest": "daily"}))
    session.commit()
    _send(app)
    # then
    assert _outbox(app_config) == []
