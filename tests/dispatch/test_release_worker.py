"""Fair release on PostgreSQL + Redis with a REAL Celery worker, the Shopify and SendGrid doubles,
and a clock the test controls — no sleeping for a batch interval or a night of quiet hours.

The release job is what beat runs every minute; the test runs it in this process with the clock
moved (``clock.travel``), as ``tests/inbox/test_durability.py`` runs the inbox re-drive: the job
plans what came due and queues the sends, which the worker delivers. When the worker itself must
live at another time (a webhook it handles hours later), it is restarted with that clock offset.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time as wall, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from plugin import clock
from plugin.models import Decision, Notification, RestockEvent
from tests.dispatch.release_helpers import (
    ITEM, WAREHOUSE, count, decisions, fresh_tokens, email, events, restock, run_release_job, set_settings, sold_out_variant,
    statuses, waiting_shoppers,
)
from tests.doubles.worker import wait_for
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload, shopify_stamp

pytestmark = [pytest.mark.worker, pytest.mark.pg_only]

NEW_YORK = ZoneInfo("America/New_York")


def _settle(worker) -> None:
    """Nothing queued and no task in hand (a first webhook can take longer than any fixed pause
    on a loaded machine)."""
    wait_for(worker.settled, timeout=30, worker=worker)


def test_ten_waiting_two_units_six_told_vips_first_sold_out_again_four_keep_places_then_told_first_at_once(
        shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop):
    # given 10 shoppers waiting in registration order; 6 and 9 are VIP customers
    set_settings(runtime, vip_tags=["VIP"])
    sold_out_variant(session, shopify_admin, installed_shop.id)
    subscriptions = waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 10, vips=(6, 9))

    # when 2 units come back (the worker handles the webhook)
    restock(client, shopify_admin, 2)
    wait_for(lambda: len(sendgrid.messages) >= 6, timeout=60, worker=celery_worker)
    _settle(celery_worker)

    # then the first 6 are told: VIPs first, then registration order
    assert sendgrid.recipients() == [email(p) for p in (6, 9, 0, 1, 2, 3)]
    assert events(runtime)[0].next_wave_at is not None

    # when the batch interval has passed and the variant sold out meanwhile (the release job, as
    # beat runs it, re-reads the variant first)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 0)
    run_release_job(app, after=timedelta(minutes=16))
    _settle(celery_worker)

    # then nobody more is told and the 4 keep their places
    rest = [subscriptions[p] for p in (4, 5, 7, 8)]
    assert len(sendgrid.messages) == 6
    assert statuses(runtime, rest) == ["waiting"] * 4
    assert decisions(runtime, Decision.decision == "skipped: sold out again") == [
        (s, "skipped: sold out again") for s in rest]
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None)]

    # when 10 units come back later (past the cool-down, on the worker's clock too)
    with clock.travel(timedelta(minutes=45)):
        celery_worker.restart(clock_offset=clock.offset())
        requests_before = len(sendgrid.requests)
        restock(client, shopify_admin, 10)
        wait_for(lambda: len(sendgrid.messages) >= 16, timeout=60, worker=celery_worker)
        _settle(celery_worker)

    # then those 4 are told first, all at once (one batch, one SendGrid request), followed by the
    # 6 told before who did not buy (VIPs first among them)
    assert sendgrid.recipients()[6:] == [email(p) for p in (4, 5, 7, 8, 6, 9, 0, 1, 2, 3)]
    assert len(sendgrid.requests) == requests_before + 1
    assert [(e.status, e.next_wave_at) for e in events(runtime)] == [("done", None), ("done", None)]
    assert sendgrid.validation_failures == []


def _next_dst_change(after: datetime) -> date:
    """The first day after ``after`` on which New York's UTC offset changes."""
    day = after.astimezone(NEW_YORK).date() + timedelta(days=1)
    while True:
        before, later = (datetime.combine(d, wall(0), tzinfo=NEW_YORK).utcoffset() for d in (day, day + timedelta(1)))
        if before != later:
            return day
        day += timedelta(days=1)


def test_quiet_hours_across_midnight_and_a_dst_change_hold_notices_then_send_each_once_at_the_windows_end(
        shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop):
    # given quiet hours 22:00-07:00 in America/New_York, and the evening before the next change
    # of the clocks: the restock comes at 23:30 there, on the app's clock and on the worker's
    set_settings(runtime, quiet_hours_start=22, quiet_hours_end=7, batch_per_unit=None)
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 5)
    change_day = _next_dst_change(clock.utcnow())
    evening = datetime.combine(change_day - timedelta(days=1), wall(23, 30), tzinfo=NEW_YORK)
    window_end = datetime.combine(change_day, wall(7), tzinfo=NEW_YORK).astimezone(timezone.utc)
    to_evening = evening.astimezone(timezone.utc) - clock.utcnow()

    # when stock comes back that evening
    with clock.travel(to_evening):
        fresh_tokens(runtime, shopify_admin)
        celery_worker.restart(clock_offset=clock.offset())
        restock(client, shopify_admin, 5)
        wait_for(lambda: count(runtime, Decision, Decision.decision.like("held:%")) == 5, timeout=60,
                 worker=celery_worker)
        _settle(celery_worker)

    # then nothing is sent; each notice is held until 07:00 on the shop's (changed) clock
    assert sendgrid.messages == []
    zone_name = window_end.astimezone(NEW_YORK).tzname()
    held = {d for _, d in decisions(runtime, Decision.decision.like("held:%"))}
    assert held == {f"held: quiet hours until {change_day.isoformat()} 07:00 {zone_name}"}
    with runtime.db.session() as s:
        assert {n.due_at for n in s.query(Notification)} == {window_end}

    # when the release job runs a minute before the end, at the end (the worker's clock there
    # too: it checks quiet hours again before sending), and a minute later
    run_release_job(app, after=window_end - timedelta(minutes=1) - clock.utcnow())
    _settle(celery_worker)
    assert sendgrid.messages == []
    with clock.travel(window_end - clock.utcnow()):
        celery_worker.restart(clock_offset=clock.offset())
    run_release_job(app, after=window_end - clock.utcnow())
    wait_for(lambda: len(sendgrid.messages) >= 5, timeout=60, worker=celery_worker)
    run_release_job(app, after=window_end + timedelta(minutes=1) - clock.utcnow())
    _settle(celery_worker)

    # then each shopper got exactly one notice, in plan order
    assert sendgrid.recipients() == [email(p) for p in range(5)]
    assert count(runtime, Notification, Notification.status == "sent") == 5
    assert count(runtime, Decision, Decision.decision == "sent") == 5


def test_stock_flapping_inside_the_cool_down_sends_one_alert(
        shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop):
    # given 3 shoppers waiting
    sold_out_variant(session, shopify_admin, installed_shop.id)
    waiting_shoppers(runtime, session, shopify_admin, installed_shop.id, 3)

    # when the stock goes 0 → 5 → 0 → 5 within the cool-down
    for step, units in enumerate((5, 0, 5, 0, 4)):
        shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, units)
        deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, units, shopify_stamp(step + 1)))
        _settle(celery_worker)

    # then one restock was declared and each shopper got one alert
    assert Counter(sendgrid.recipients()) == {email(p): 1 for p in range(3)}
    assert count(runtime, RestockEvent) == 1
    assert [d for _, d in decisions(runtime, Decision.decision.like("skipped: cool%"))] == ["skipped: cool-down"] * 2
