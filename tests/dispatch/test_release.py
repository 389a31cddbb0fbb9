"""Fair release in-process (no Redis: tasks run in this process; the outbox channel): batches by
stock with a re-read before each, VIPs first, told-but-not-bought shoppers enrolled again, the
frequency cap, quiet hours held and released by the release job."""

from __future__ import annotations

from datetime import timedelta

from plugin import clock
from plugin.dispatch.quiet_hours import shop_zone
from plugin.dispatch.plan import plan_restock
from plugin.models import Decision, Notification, RestockEvent, Variant
from tests.dispatch.release_helpers import (
    ITEM, VARIANT, WAREHOUSE, also_waits_for, count, decisions, email, events, outbox, restock, run_release_job, set_settings,
    sold_out_variant, statuses, waiting_shoppers,
)
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, deliver, level_payload

OTHER_VARIANT, OTHER_ITEM = 9102, 9202

INTERVAL = timedelta(minutes=16)  # past the default batch_interval_minutes (15)
LATER = timedelta(minutes=45)  # past the default cool-down (30)


def test_two_units_tell_six_vips_first_sold_out_again_keeps_four_waiting_next_restock_tells_them_first(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 10 waiting, shoppers 5 and 8 are VIP customers
    set_settings(runtime, vip_tags=["vip"])
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 10, vips=(5, 8))

    # when 2 units come back
    restock(client, shopify_admin, 2)

    # then 2 × 3 = 6 are told: the VIPs first, then registration order
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in (5, 8, 0, 1, 2, 3)]
    assert events(runtime)[0].next_wave_at is not None

    # when the interval has passed and the variant has sold out meanwhile
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 0)
    run_release_job(app, after=INTERVAL)

    # then nobody more is told; the 4 keep waiting, each with a decision
    assert len(outbox(app_config)) == 6
    rest = [subscriptions[p] for p in (4, 6, 7, 9)]
    assert statuses(runtime, rest) == ["waiting"] * 4
    assert decisions(runtime, Decision.decision == "skipped: sold out again") == [(s, "skipped: sold out again")
                                                                                 for s in rest]
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]

    # when 10 units come back later
    with clock.travel(LATER):
        restock(client, shopify_admin, 10)

    # then those 4 are told first, all at once; the 6 told before who did not buy follow
    second = [line["to"] for line in outbox(app_config)][6:]
    assert second == [email(p) for p in (4, 6, 7, 9, 5, 8, 0, 1, 2, 3)]
    assert [(e.status, e.next_wave_at) for e in events(runtime)][1] == ("done", None)


def test_stock_still_there_after_the_interval_sends_the_next_batch_sized_by_the_stock_now(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 10 waiting and 1 unit back: 3 told
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 10)
    restock(client, shopify_admin, 1)
    assert len(outbox(app_config)) == 3

    # when the release job runs before the interval is over
    run_release_job(app, after=timedelta(minutes=14))

    # then nothing more
    assert len(outbox(app_config)) == 3

    # when it runs after the interval, with 2 units in stock now
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 2)
    run_release_job(app, after=INTERVAL)

    # then the next 6 are told (2 × 3), in registration order, and one batch is still due
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in range(9)]
    assert events(runtime)[0].next_wave_at is not None
    assert shopify_admin.graphql_requests("VariantStock")[-1]["variables"]["ids"] == ["gid://shopify/ProductVariant/9101"]

    # when it runs twice more, an interval apart
    run_release_job(app, after=INTERVAL * 2)
    run_release_job(app, after=INTERVAL * 2)

    # then the last one is told once, and the restock is done
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in range(10)]
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]


def test_plentiful_stock_or_no_batching_tells_everybody_at_once(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given 10 waiting and batching switched off
    set_settings(runtime, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 10)

    # when a single unit comes back
    restock(client, shopify_admin, 1)

    # then all 10 are told at once and no batch is due
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in range(10)]
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]


def test_four_units_for_ten_shoppers_is_plentiful(shopify_admin, installed_shop, app, client, runtime, session,
                                                  app_config):
    # given
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 10)

    # when 4 units come back (4 × 3 = 12 ≥ 10)
    restock(client, shopify_admin, 4)

    # then
    assert len(outbox(app_config)) == 10
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]


def test_a_shopper_alerted_within_the_frequency_cap_keeps_waiting_and_is_told_at_the_next_restock_after_it(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given a 2-hour cap; shopper 0 also waits for another variant, which comes back first
    set_settings(runtime, frequency_cap_hours=2, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 2)
    shopify_admin.add_variant(DEMO_SHOP, OTHER_VARIANT, inventory_item_id=OTHER_ITEM, levels={WAREHOUSE: 0})
    add_variant_row(session, installed_shop.id, OTHER_VARIANT, OTHER_ITEM, 0)
    also_waits_for(session, subscriptions[0], OTHER_VARIANT)
    shopify_admin.set_level(DEMO_SHOP, OTHER_ITEM, WAREHOUSE, 3)
    deliver(client, "inventory_levels/update", level_payload(OTHER_ITEM, WAREHOUSE, 3))
    assert [line["to"] for line in outbox(app_config)] == [email(0)]

    # when this variant comes back an hour later
    with clock.travel(timedelta(hours=1)):
        restock(client, shopify_admin, 5)

    # then only shopper 1 is told; shopper 0 keeps waiting, and the log says why
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1)]
    assert statuses(runtime, subscriptions) == ["waiting", "notified"]
    assert decisions(runtime, Decision.decision.like("skipped: frequency%")) == [
        (subscriptions[0], "skipped: frequency cap (keeps waiting)")]

    # when it sells out and comes back after the cap
    with clock.travel(timedelta(hours=2)):
        restock(client, shopify_admin, 0)
    with clock.travel(timedelta(hours=3, minutes=30)):
        restock(client, shopify_admin, 5)

    # then shopper 0 is told now (and shopper 1, told before without buying, after them)
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1), email(0), email(1)]
    assert count(runtime, RestockEvent) == 3


def test_inside_quiet_hours_notices_are_held_and_go_once_at_the_windows_end(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given quiet hours that hold every hour but one, the window ending within two hours
    now, zone = clock.utcnow(), shop_zone(installed_shop.timezone)
    local_hour = now.astimezone(zone).hour
    end = (local_hour + 2) % 24
    set_settings(runtime, quiet_hours_start=(local_hour + 3) % 24, quiet_hours_end=end, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 3)

    # when stock comes back now
    restock(client, shopify_admin, 5)

    # then nothing is sent; every notice is held with a decision naming the end
    assert outbox(app_config) == []
    held = decisions(runtime, Decision.decision.like("held:%"))
    assert [s for s, _ in held] == subscriptions
    assert len({d for _, d in held}) == 1 and held[0][1].startswith("held: quiet hours until ")
    assert count(runtime, Notification, Notification.due_at.is_not(None)) == 3

    # when the release job runs five minutes before the window ends (still inside), then a minute
    # and two minutes after (counted from the first minute the shop's clock shows the end hour: a
    # fixed "two hours on" from xx:59 overshot the one-hour window into quiet hours again)
    opens = next(timedelta(minutes=m) for m in range(24 * 60)
                 if (now + timedelta(minutes=m)).astimezone(zone).hour == end)
    run_release_job(app, after=opens - timedelta(minutes=5))
    assert outbox(app_config) == []
    run_release_job(app, after=opens + timedelta(minutes=1))
    run_release_job(app, after=opens + timedelta(minutes=2))

    # then each shopper got exactly one notice, in plan order
    assert [line["to"] for line in outbox(app_config)] == [email(p) for p in range(3)]
    assert count(runtime, Decision, Decision.decision == "sent") == 3


def test_a_notice_reaching_the_provider_inside_quiet_hours_is_held_again_until_the_window_ends(
        shopify_admin, installed_shop, app, client, runtime, session, app_config):
    # given notices planned just before quiet hours (none yet) whose send comes late
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 2)
    local_hour = clock.utcnow().astimezone(shop_zone(installed_shop.timezone)).hour
    set_settings(runtime, quiet_hours_start=(local_hour + 2) % 24, quiet_hours_end=(local_hour + 4) % 24,
                 batch_per_unit=None)
    with runtime.db.session() as s:
        s.query(Variant).update({"available": 5})
        event = RestockEvent(shop_id=installed_shop.id, variant_id=VARIANT, previous_available=0, available=5,
                             source="webhook")
        s.add(event)
        s.flush()
        plan_restock(s, event)
        event_id = event.id
    assert count(runtime, Notification, Notification.due_at.is_(None)) == 2

    # when the send chain runs two and a half hours later, inside the window
    with clock.travel(timedelta(hours=2, minutes=30)):
        app.extensions["celery"].tasks["backbell.send_batch"].apply(args=(event_id, "email"), throw=True)

    # then nothing is sent; both are held to the window's end, and sent once after it
    assert outbox(app_config) == []
    assert [s for s, d in decisions(runtime, Decision.decision.like("held:%"))] == subscriptions
    run_release_job(app, after=timedelta(hours=4, minutes=1))
    assert [line["to"] for line in outbox(app_config)] == [email(0), email(1)]
