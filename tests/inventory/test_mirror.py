"""inventory_levels/update through POST /webhooks: the per-location mirror and restock crossings.

Tasks run in-process, so each delivery is handled before the response; Shopify is the local
double (``shopify_admin``), which the handler re-reads before declaring a restock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from plugin.clock import utcnow
from plugin.models import Decision, InventoryLevel, RestockEvent, Shop, Variant
from plugin.inventory.tasks import sync_variant
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, deliver, level_payload, shopify_stamp

VARIANT, ITEM = 4242, 9191
WAREHOUSE, STORE = 111, 222
TOPIC = "inventory_levels/update"


def restock_events(session) -> list[RestockEvent]:
    session.expire_all()
    return list(session.scalars(select(RestockEvent).order_by(RestockEvent.id)))


def level(session, shop_id: int, location_id: int) -> InventoryLevel | None:
    session.expire_all()
    return session.get(InventoryLevel, (shop_id, ITEM, location_id))


def decisions(session) -> list[str]:
    return list(session.scalars(select(Decision.decision).order_by(Decision.id)))


def watched_variant(session, runtime, shop, shopify_admin, levels: dict[int, int], available: int = 0, **fields):
    """A sold-out variant one shopper waits for, mirrored and freshly synced; Shopify holds ``levels``."""
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels=levels, **fields)
    variant = add_variant_row(session, shop.id, VARIANT, ITEM, available)
    for location in levels:
        session.add(InventoryLevel(shop_id=shop.id, inventory_item_id=ITEM, location_id=location, available=0))
    session.commit()
    add_waiting(session, runtime.vault, shop.id, VARIANT)
    return variant


def test_crossing_creates_exactly_one_restock_event(runtime, client, session, shopify_admin, installed_shop):
    # given a sold-out variant with a waiting shopper, now back in Shopify
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 4})
    # when the level update arrives, then another for the same stock
    first = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 4, shopify_stamp()))
    second = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 4, shopify_stamp(5)))
    # then one event, declared after re-reading Shopify
    assert (first.status_code, second.status_code) == (200, 200)
    events = restock_events(session)
    assert [(e.variant_id, e.previous_available, e.available, e.source) for e in events] == [(VARIANT, 0, 4, "webhook")]
    assert len(shopify_admin.graphql_requests("VariantStock")) == 1
    assert "restock_detected" in decisions(session)
    assert session.get(Variant, session.scalar(select(Variant.id))).available == 4


def test_older_delivery_does_not_overwrite_a_newer_level(runtime, client, session, shopify_admin, installed_shop):
    # given the level stamped five minutes on says 0
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 0})
    newest = shopify_stamp(300)
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 0, newest))
    # when a late delivery stamped earlier says 3
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 3, shopify_stamp()))
    # then it changes nothing
    assert response.status_code == 200
    stored = level(session, installed_shop.id, WAREHOUSE)
    assert (stored.available, stored.source_updated_at) == (0, datetime.fromisoformat(newest))
    assert restock_events(session) == []
    assert shopify_admin.graphql_requests("VariantStock") == []


def test_out_of_order_deliveries_end_on_the_newest(runtime, client, session, shopify_admin, installed_shop):
    # given Shopify went 0 → 5 (10:01) after an earlier 0 → 2 (10:00); deliveries arrive newest first
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 5})
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 5, shopify_stamp(60)))
    # when the older one arrives
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 2, shopify_stamp()))
    # then the mirror holds the newest value, and there was one restock
    assert level(session, installed_shop.id, WAREHOUSE).available == 5
    assert [(e.previous_available, e.available) for e in restock_events(session)] == [(0, 5)]


def test_null_available_records_nothing(runtime, client, session, shopify_admin, installed_shop):
    # given
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 0})
    # when a location reports the item as not tracked there
    response = deliver(client, TOPIC, level_payload(ITEM, STORE, None, shopify_stamp()))
    # then
    assert response.status_code == 200
    assert level(session, installed_shop.id, STORE) is None
    assert restock_events(session) == []


def test_sellable_sums_only_the_counted_locations(runtime, client, session, shopify_admin, installed_shop):
    # given the merchant counts only the warehouse; the shop floor has 7
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 0, STORE: 7})
    shop = session.get(Shop, installed_shop.id)
    shop.settings = {"counted_location_ids": [WAREHOUSE]}
    session.commit()
    # when the shop floor's stock arrives
    deliver(client, TOPIC, level_payload(ITEM, STORE, 7, shopify_stamp()))
    # then nothing is back for this merchant
    assert restock_events(session) == []
    # when the warehouse gets 2
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 2)
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 2, shopify_stamp(60)))
    # then the restock counts the warehouse only
    assert [(e.previous_available, e.available) for e in restock_events(session)] == [(0, 2)]


def test_sellable_sums_every_location_by_default(runtime, client, session, shopify_admin, installed_shop):
    # given two locations, 3 + 4 in Shopify
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 3, STORE: 4})
    # when one delivery arrives (the re-read brings the other location too)
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 3, shopify_stamp()))
    # then
    assert [e.available for e in restock_events(session)] == [7]
    assert level(session, installed_shop.id, STORE).available == 4


def test_flapping_inside_the_cooldown_does_not_alert_again(runtime, client, session, shopify_admin, installed_shop):
    # given a restock just happened
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 3})
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 3, shopify_stamp()))
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT, value="late.comer@gmail.com")
    # when it sells out and comes back within minutes (after the re-read the restock made)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 0)
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 0, (utcnow() + timedelta(minutes=1)).isoformat()))
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 2)
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 2, (utcnow() + timedelta(minutes=2)).isoformat()))
    # then the second crossing is logged but not alerted
    assert [e.available for e in restock_events(session)] == [3]
    assert decisions(session).count("skipped: cool-down") == 1


def test_shopify_is_the_truth_when_the_webhook_disagrees(runtime, client, session, shopify_admin, installed_shop):
    # given Shopify says 0 (the delivery is behind a sale that already happened)
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 0})
    # when the delivery says 5
    deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 5, shopify_stamp()))
    # then the re-read wins: no restock, mirror corrected
    assert restock_events(session) == []
    assert level(session, installed_shop.id, WAREHOUSE).available == 0


def test_backorderable_untracked_or_draft_variants_never_alert(runtime, client, session, shopify_admin, installed_shop):
    # given the mirror thinks DENY/tracked/active, Shopify knows better
    cases = [({"policy": "CONTINUE"}, "skipped: backorder allowed"),
             ({"tracked": False}, "skipped: inventory not tracked"),
             ({"status": "DRAFT"}, "skipped: product draft")]
    for number, (fields, expected) in enumerate(cases):
        variant_id, item = VARIANT + number, ITEM + number
        shopify_admin.add_variant(DEMO_SHOP, variant_id, inventory_item_id=item, levels={WAREHOUSE: 5}, **fields)
        add_variant_row(session, installed_shop.id, variant_id, item, 0)
        add_waiting(session, runtime.vault, installed_shop.id, variant_id, value=f"s{number}@gmail.com")
        # when
        deliver(client, TOPIC, level_payload(item, WAREHOUSE, 5, shopify_stamp()))
        # then
        assert decisions(session)[-1] == expected
    assert restock_events(session) == []


def test_item_nobody_waits_for_costs_one_upsert(client, session, shopify_admin, installed_shop):
    # when an item without a mirrored variant changes
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 9, shopify_stamp()))
    # then the level is kept and Shopify is not asked
    assert response.status_code == 200
    assert level(session, installed_shop.id, WAREHOUSE).available == 9
    assert shopify_admin.graphql_requests() == []
    assert session.scalar(select(func.count()).select_from(Variant)) == 0


def test_admin_api_refusal_falls_back_to_the_webhook_figures(runtime, client, session, shopify_admin, installed_shop):
    # given Shopify's API refuses the read (a non-transient 403)
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 4})
    shopify_admin.fail_next(403)
    # when
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 4, shopify_stamp()))
    # then the webhook is Shopify's word too
    assert response.status_code == 200
    assert [e.available for e in restock_events(session)] == [4]


def test_uninstalled_shop_webhooks_do_nothing(client, session, shopify_admin, installed_shop):
    # given
    shop = session.get(Shop, installed_shop.id)
    shop.uninstalled_at = shop.installed_at
    session.commit()
    # when
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 9, shopify_stamp()))
    # then
    assert response.status_code == 200
    assert level(session, installed_shop.id, WAREHOUSE) is None


def test_delivery_older_than_an_admin_api_read_does_not_undo_it(app, runtime, client, session, shopify_admin,
                                                                 installed_shop):
    # given a new subscription made us read the variant from Shopify just now: 4 in the warehouse
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 4})
    add_waiting(session, runtime.vault, installed_shop.id, VARIANT)
    with app.app_context():
        sync_variant.delay(installed_shop.id, VARIANT)
    assert [e.available for e in restock_events(session)] == [4]
    # when a delivery from an hour ago (retried by Shopify), from before the stock came in, arrives
    an_hour_ago = (utcnow() - timedelta(hours=1)).isoformat()
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 0, an_hour_ago))
    # then the read stands: the variant is not "sold out again"
    assert response.status_code == 200
    assert level(session, installed_shop.id, WAREHOUSE).available == 4
    assert session.scalar(select(Variant.available)) == 4


@pytest.mark.pg_only
def test_the_variant_row_is_not_locked_while_shopify_is_asked(runtime, client, session, shopify_admin, installed_shop):
    # given a crossing that needs a re-read; while Shopify answers, another worker tries to lock the row
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 4})
    variant_pk = session.scalar(select(Variant.id))
    session.commit()
    attempts = []

    def lock_the_variant_elsewhere():
        with runtime.db.engine.connect() as other:
            try:
                other.execute(text("SET LOCAL lock_timeout = '100ms'"))
                other.execute(select(Variant.id).where(Variant.id == variant_pk).with_for_update())
                attempts.append("locked")
            except OperationalError:
                attempts.append("blocked")
            other.rollback()

    shopify_admin.on_graphql = lock_the_variant_elsewhere

    # when
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 4, shopify_stamp()))

    # then the row was free during the read, and the read still decided the restock
    assert response.status_code == 200
    assert attempts == ["locked"]
    assert [(e.previous_available, e.available) for e in restock_events(session)] == [(0, 4)]


def test_a_restock_webhook_when_the_access_token_has_expired_refreshes_it_and_restocks(
        runtime, client, session, shopify_admin, installed_shop):
    # given a waiting shopper and a token that expired an hour ago (a shop running for a while);
    # on SQLite the refresh writes on another connection, so the webhook's transaction must not
    # be holding the database's write lock while it re-reads Shopify
    watched_variant(session, runtime, installed_shop, shopify_admin, {WAREHOUSE: 4})
    shop = session.get(Shop, installed_shop.id)
    shop.access_token_expires_at = utcnow() - timedelta(hours=1)
    session.commit()
    # when the restock arrives
    response = deliver(client, TOPIC, level_payload(ITEM, WAREHOUSE, 4))
    # then the token was refreshed once and the restock declared from the webhook
    assert response.status_code == 200
    assert shopify_admin.refreshes == 1
    assert [(e.available, e.source) for e in restock_events(session)] == [(4, "webhook")]
