"""Planning, batching and delivery of a restock, in-process (outbox and the SendGrid double)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from plugin.dispatch.channels.base import DeliveryResult
from plugin.dispatch.channels.outbox import OutboxChannel
from plugin.clock import travel, utcnow, wall_timestamp
from plugin.dispatch.delivery import ChannelSender, send_next_batch
from plugin.dispatch.plan import plan_restock, recover_stalled
from plugin.models import Decision, Notification, RestockEvent, Subscription, Variant
from plugin.dispatch.tasks import dispatch_restock, recover_dispatch
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe, subscribe_many
from tests.doubles.worker import wait_for
from tests.sql_log import sql_log


def _outbox_lines(app_config) -> list[dict]:
    path = app_config["outbox_path"] / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _statuses(session, event_id) -> list[tuple[int, str]]:
    session.expire_all()
    return [(n.subscription_id, n.status) for n in session.scalars(
        select(Notification).where(Notification.restock_event_id == event_id).order_by(Notification.id))]


def _decisions(session) -> list[tuple[int | None, str]]:
    return [(d.subscription_id, d.decision) for d in session.scalars(select(Decision).order_by(Decision.id))]


def _dispatch(app, event_id):
    with app.app_context():
        dispatch_restock.delay(event_id)


def test_outbox_gets_every_waiting_shopper_in_registration_order(app, runtime, session, app_config):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    subs = [subscribe(session, runtime.vault, shop, f"s{i}@example.com", locale=loc)
            for i, loc in enumerate(["en", "zh-CN", "ja"])]
    event = make_event(session, shop)
    session.commit()

    # when
    _dispatch(app, event.id)

    # then
    lines = _outbox_lines(app_config)
    assert [(line["to"], line["locale"]) for line in lines] == [
        ("s0@example.com", "en"), ("s1@example.com", "zh-CN"), ("s2@example.com", "ja")]
    assert _statuses(session, event.id) == [(s.id, "sent") for s in subs]
    assert [s.status for s in session.scalars(select(Subscription).order_by(Subscription.id))] == ["notified"] * 3
    assert session.get(RestockEvent, event.id).status == "done"
    assert _decisions(session) == [(s.id, "sent") for s in subs]


def test_outbox_line_has_every_contract_field(app, runtime, session, app_config):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "ana@example.com", locale="de")
    event = make_event(session, shop)
    session.commit()

    # when
    _dispatch(app, event.id)

    # then
    (line,) = _outbox_lines(app_config)
    assert set(line) >= {"channel", "to", "shop", "kind", "variant_id", "subject", "text", "html", "url",
                         "discount_code", "expires_at", "locale", "sent_at", "notification_id"}
    assert (line["channel"], line["to"], line["shop"], line["kind"], line["variant_id"], line["locale"]) == (
        "email", "ana@example.com", "bell-test.myshopify.com", "restock", 44001, "de")
    assert line["subject"] == "Linen Shirt ist wieder verfügbar bei Bell Test"
    assert (line["discount_code"], line["expires_at"]) == (None, None)
    assert line["url"].startswith("http://127.0.0.1:8000/r/")
    assert line["url"] in line["text"] and line["url"] in line["html"]
    assert line["unsubscribe_url"] in line["html"]
    assert line["sent_at"].endswith("Z")


def test_planning_twice_adds_nothing(app, runtime, session):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    session.commit()

    # when
    first = plan_restock(session, event)
    event.status = "pending"  # even a forced re-plan must not duplicate
    second = plan_restock(session, event)
    session.commit()

    # then
    assert (first, second) == (1, 0)
    assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_plan_of_20000_shoppers_is_one_insert_select(app, runtime, session):
    # given a shop that tells everybody at once
    shop = make_shop(session, settings={"batch_per_unit": None})
    make_variant(session, shop)
    subscribe_many(session, runtime.vault, shop, 20_000)
    event = make_event(session, shop)
    session.commit()

    # when
    with sql_log(runtime.db.engine) as sent:
        added = plan_restock(session, event)
        session.commit()

    # then
    statements = sent.statements
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert added == 20_000
    assert len(inserts) == 1 and "SELECT" in inserts[0].upper()
    assert len(statements) <= 5
    assert session.scalar(select(func.count()).select_from(Notification)) == 20_000


def test_uninstalled_shop_cancels_the_restock_and_sends_nothing(app, runtime, session, app_config):
    # given
    shop = make_shop(session, uninstalled_at=utcnow())
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    session.commit()

    # when
    _dispatch(app, event.id)

    # then
    assert _outbox_lines(app_config) == []
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert session.get(RestockEvent, event.id).status == "cancelled"
    assert _decisions(session) == [(None, "skipped: shop uninstalled")]


def test_sold_out_again_mid_dispatch_skips_the_rest_who_keep_waiting(app, runtime, session, app_config):
    # given: five shoppers, batches of two
    shop = make_shop(session)
    make_variant(session, shop)
    subs = [subscribe(session, runtime.vault, shop, f"s{i}@example.com") for i in range(5)]
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()
    delivery = ChannelSender(OutboxChannel(app_config["outbox_path"], max_batch=2), runtime.vault,
                        "http://127.0.0.1:8000", "hush")
    first = send_next_batch(runtime.db, event.id, "email", delivery)

    # when
    session.execute(Variant.__table__.update().values(available=0))
    session.commit()
    second = send_next_batch(runtime.db, event.id, "email", delivery)

    # then
    assert (first.sent, first.remaining) == (2, True)
    assert (second.claimed, second.skipped, second.remaining, second.stopped) == (0, 3, False, "skipped: sold out again")
    assert [line["to"] for line in _outbox_lines(app_config)] == ["s0@example.com", "s1@example.com"]
    assert _statuses(session, event.id) == [(subs[0].id, "sent"), (subs[1].id, "sent")] + [
        (s.id, "skipped") for s in subs[2:]]
    assert [s.status for s in session.scalars(select(Subscription).order_by(Subscription.id))] == [
        "notified", "notified", "waiting", "waiting", "waiting"]
    assert _decisions(session) == [(subs[0].id, "sent"), (subs[1].id, "sent")] + [
        (s.id, "skipped: sold out again") for s in subs[2:]]
    assert session.get(RestockEvent, event.id).status == "done"


def test_unsubscribed_and_suppressed_shoppers_are_skipped(app, runtime, session, app_config):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    keep = subscribe(session, runtime.vault, shop, "keep@example.com")
    gone = subscribe(session, runtime.vault, shop, "gone@example.com")
    bounced = subscribe(session, runtime.vault, shop, "bounced@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    gone.status = "unsubscribed"
    bounced.contact.suppressed_at, bounced.contact.suppressed_reason = utcnow(), "bounced"
    session.commit()

    # when
    _dispatch(app, event.id)

    # then
    assert [line["to"] for line in _outbox_lines(app_config)] == ["keep@example.com"]
    assert _statuses(session, event.id) == [(keep.id, "sent"), (gone.id, "skipped"), (bounced.id, "skipped")]
    assert sorted(_decisions(session)) == sorted([(keep.id, "sent"), (gone.id, "skipped: unsubscribed"),
                                                  (bounced.id, "skipped: address suppressed (bounced)")])


def test_429_then_success_sends_once(sendgrid, app, runtime, session):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    session.commit()
    sendgrid.fail_next(1, status=429)

    # when it is dispatched in-process: SendGrid throttles, and nothing is sent before its reset
    _dispatch(app, event.id)
    assert [r["status"] for r in sendgrid.requests] == [429]
    # and once the reset has passed (SendGrid's wall clock), the scheduler's recovery goes on
    wait_for(lambda: wall_timestamp() >= sendgrid.not_before, timeout=10)
    with app.app_context(), travel(timedelta(seconds=sendgrid.throttle_seconds + 2)):
        recover_dispatch.apply()

    # then
    assert sendgrid.recipients() == ["ana@example.com"]
    assert [r["status"] for r in sendgrid.requests] == [429, 202]
    assert sendgrid.early_calls == []
    session.expire_all()
    notification = session.scalars(select(Notification)).one()
    # (the throttled call is not counted against the notice: SendGrid refused to look at it)
    assert (notification.status, notification.attempts) == ("sent", 1)
    assert notification.provider_message_id == sendgrid.requests[1]["message_id"]


def test_400_fails_without_retry(sendgrid, app, runtime, session):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    sub = subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    session.commit()
    sendgrid.fail_next(1, status=400)

    # when
    _dispatch(app, event.id)

    # then
    assert sendgrid.messages == []
    assert [r["status"] for r in sendgrid.requests] == [400]
    session.expire_all()
    notification = session.scalars(select(Notification)).one()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert session.get(Subscription, sub.id).status == "waiting"
    assert _decisions(session) == [(sub.id, "failed: rejected by provider")]


def test_recover_stalled_requeues_unsent_rows_and_marks_handed_off_rows_uncertain(app, runtime, session):
    # given: two rows whose lease ran out a minute ago; only the second reached the provider call
    shop = make_shop(session)
    make_variant(session, shop)
    never_sent = subscribe(session, runtime.vault, shop, "a@example.com")
    maybe_sent = subscribe(session, runtime.vault, shop, "b@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    long_ago = utcnow() - timedelta(minutes=11)
    rows = session.scalars(select(Notification).order_by(Notification.id)).all()
    for row in rows:
        row.status, row.claimed_at, row.attempts, row.claim_token = "sending", long_ago, 1, "first-worker"
        row.lease_until = utcnow() - timedelta(minutes=1)
    rows[1].handed_off_at = long_ago
    session.commit()

    # when
    counts = recover_stalled(session)
    session.commit()

    # then
    assert counts == {"requeued": 1, "uncertain": 1}
    assert _statuses(session, event.id) == [(never_sent.id, "pending"), (maybe_sent.id, "uncertain")]
    assert _decisions(session) == [(maybe_sent.id, "skipped: delivery uncertain (worker stopped mid-send)")]


def test_recover_stalled_leaves_rows_inside_the_lease(app, runtime, session):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "a@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    row = session.scalars(select(Notification)).one()
    # claimed 11 minutes ago (the old fixed lease was 10) for a slow batch leased for 20
    row.status, row.claimed_at, row.handed_off_at = "sending", utcnow() - timedelta(minutes=11), utcnow()
    row.claim_token, row.lease_until = "slow-worker", utcnow() + timedelta(minutes=9)
    session.commit()

    # when
    counts = recover_stalled(session)
    session.commit()

    # then
    assert counts == {"requeued": 0, "uncertain": 0}
    assert _statuses(session, event.id)[0][1] == "sending"
    assert _decisions(session) == []


def test_a_shopper_planned_by_two_overlapping_restocks_is_told_once(app, runtime, session, app_config):
    # given: a second crossing (cool-down 0, or a slow first dispatch) planned the same waiting shopper
    shop = make_shop(session)
    make_variant(session, shop)
    sub = subscribe(session, runtime.vault, shop, "ana@example.com")
    first = make_event(session, shop)
    plan_restock(session, first)
    second = make_event(session, shop)
    plan_restock(session, second)
    session.commit()

    # when
    _dispatch(app, first.id)
    _dispatch(app, second.id)

    # then
    assert [line["to"] for line in _outbox_lines(app_config)] == ["ana@example.com"]
    assert _statuses(session, first.id) == [(sub.id, "sent")]
    assert _statuses(session, second.id) == [(sub.id, "skipped")]
    assert _decisions(session) == [(sub.id, "sent"), (sub.id, "skipped: already notified")]
    assert session.get(RestockEvent, second.id).status == "done"


def test_a_restock_whose_only_shopper_left_before_planning_is_done(app, runtime, session, app_config):
    # given: the event was detected, then its only shopper unsubscribed before the plan ran
    shop = make_shop(session)
    make_variant(session, shop)
    subscribe(session, runtime.vault, shop, "ana@example.com", status="unsubscribed")
    event = make_event(session, shop)
    session.commit()

    # when
    _dispatch(app, event.id)

    # then: not left "planned" forever (an open event blocks the next in-stock-for-waiting event)
    assert _outbox_lines(app_config) == []
    assert _statuses(session, event.id) == []
    assert session.get(RestockEvent, event.id).status == "done"


def test_recovering_the_last_stalled_rows_as_uncertain_finishes_the_restock(app, runtime, session):
    # given: the worker died after handing the only row to the provider
    shop = make_shop(session)
    make_variant(session, shop)
    sub = subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    long_ago = utcnow() - timedelta(minutes=11)
    row = session.scalars(select(Notification)).one()
    row.status, row.claimed_at, row.handed_off_at, row.attempts = "sending", long_ago, long_ago, 1
    session.commit()

    # when
    recover_stalled(session)
    session.commit()

    # then
    assert _statuses(session, event.id) == [(sub.id, "uncertain")]
    assert session.get(RestockEvent, event.id).status == "done"


def test_recover_dispatch_sends_the_rows_of_a_lost_send_batch_task(app, runtime, session, app_config):
    # given: planned rows whose send_batch task never ran (lost by the broker, not a dead worker)
    shop = make_shop(session)
    make_variant(session, shop)
    sub = subscribe(session, runtime.vault, shop, "ana@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()

    # when
    with app.app_context():
        recover_dispatch.delay()

    # then
    assert [line["to"] for line in _outbox_lines(app_config)] == ["ana@example.com"]
    assert _statuses(session, event.id) == [(sub.id, "sent")]
    assert session.get(RestockEvent, event.id).status == "done"


def _statements_to_send(runtime, app_config, session, shoppers: int) -> int:
    shop = make_shop(session, domain=f"bell-{shoppers}.myshopify.com", settings={"batch_per_unit": None})
    make_variant(session, shop)
    for i in range(shoppers):
        subscribe(session, runtime.vault, shop, f"s{shoppers}-{i}@example.com")
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()
    delivery = ChannelSender(OutboxChannel(app_config["outbox_path"]), runtime.vault, "http://127.0.0.1:8000",
                             runtime.settings.link_secret)
    with sql_log(runtime.db.engine) as sent:
        outcome = send_next_batch(runtime.db, event.id, "email", delivery)
    statements = sent.statements
    assert outcome.sent == shoppers
    # The Decision INSERTs are left out: the ORM batches them on PostgreSQL, but SQLite cannot
    # return the ids of a multi-row insert in order, so there it inserts them one by one.
    return len([s for s in statements if not s.lstrip().upper().startswith("INSERT")])


def test_a_batch_costs_the_same_queries_and_updates_for_2_or_40_shoppers(app, runtime, session, app_config):
    # when
    few = _statements_to_send(runtime, app_config, session, 2)
    many = _statements_to_send(runtime, app_config, session, 40)

    # then: no query per shopper on the fan-out path
    assert many == few


class _OptedOutChannel:
    """A provider answering every message like Twilio's 21610 (the number replied STOP)."""

    name, max_batch = "sms", 50

    def max_send_seconds(self, count):
        return 1.0

    def send(self, messages):
        return [DeliveryResult(m.notification_id, ok=False, error="twilio 400 code 21610", suppress=True)
                for m in messages]


def test_a_number_that_opted_out_is_failed_and_suppressed(app, runtime, session):
    # given
    shop = make_shop(session)
    make_variant(session, shop)
    sub = subscribe(session, runtime.vault, shop, "+4915123456789", channel="sms")
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()
    delivery = ChannelSender(_OptedOutChannel(), runtime.vault, "http://127.0.0.1:8000", runtime.settings.link_secret)

    # when
    outcome = send_next_batch(runtime.db, event.id, "sms", delivery)

    # then
    assert (outcome.sent, outcome.failed, outcome.remaining) == (0, 1, False)
    assert _statuses(session, event.id) == [(sub.id, "failed")]
    contact = session.get(Subscription, sub.id).contact
    assert (contact.suppressed_reason, contact.suppressed_at is not None) == ("opted_out", True)
    assert _decisions(session) == [(sub.id, "failed: rejected by provider")]


def test_a_contact_no_key_can_decrypt_fails_alone_and_does_not_block_the_batch(app, runtime, session, app_config):
    # given three shoppers, the middle one stored under a key that is no longer configured
    from cryptography.fernet import Fernet

    from plugin.crypto import Vault

    shop = make_shop(session)
    make_variant(session, shop)
    subs = [subscribe(session, runtime.vault, shop, f"s{i}@example.com") for i in range(3)]
    lost_key = Vault([Fernet.generate_key().decode()])
    subs[1].contact.value_ciphertext = lost_key.encrypt("s1@example.com")
    event = make_event(session, shop)
    session.commit()

    # when
    _dispatch(app, event.id)

    # then the others are told, the unreadable one fails once with a reason, and the restock ends
    assert [line["to"] for line in _outbox_lines(app_config)] == ["s0@example.com", "s2@example.com"]
    assert _statuses(session, event.id) == [(subs[0].id, "sent"), (subs[1].id, "failed"), (subs[2].id, "sent")]
    assert (subs[1].id, "failed: contact unreadable (key not configured)") in _decisions(session)
    assert session.get(RestockEvent, event.id).status == "done"
