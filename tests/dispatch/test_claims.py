"""Claims, leases and backoff: a late worker never overwrites a row it no longer holds, and the
beat's recovery leaves alone the chains that are sending or waiting out a backoff."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import redis

from sqlalchemy import select

from plugin.clock import frozen, travel, utcnow
from plugin.dispatch.channels.base import DeliveryResult
from plugin.dispatch.delivery import ChannelSender, deliver_batch, BatchOutcome, send_next_batch
from plugin.dispatch.pauses import KEY as PAUSE_KEY, RedisPauses
from plugin.dispatch.plan import claim_batch, open_batches, plan_restock, recover_stalled
from plugin.models import Decision, Notification, Subscription
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe


class RecordingChannel:
    """Accepts everything and remembers who it was asked to send to."""

    name, max_batch = "email", 10

    def __init__(self, on_send=None, transient: bool = False):
        self.sent_to: list[str] = []
        self.on_send = on_send
        self.transient = transient

    def max_send_seconds(self, count: int) -> float:
        return 60.0 * count

    def send(self, messages):
        if self.on_send:
            self.on_send()
        self.sent_to += [m.to for m in messages]
        if self.transient:
            return [DeliveryResult(m.notification_id, ok=False, transient=True, error="sendgrid 503") for m in messages]
        return [DeliveryResult(m.notification_id, ok=True, provider_message_id=f"id-{m.notification_id}")
                for m in messages]


def _planned(session, runtime, count: int = 1):
    shop = make_shop(session)
    make_variant(session, shop)
    subs = [subscribe(session, runtime.vault, shop, f"s{i}@example.com") for i in range(count)]
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()
    return event, subs


def _sender(runtime, channel) -> ChannelSender:
    return ChannelSender(channel, runtime.vault, "http://127.0.0.1:8000", runtime.settings.link_secret,
                         lease_margin=timedelta(seconds=30))


def _rows(session) -> list[tuple[str, str | None]]:
    session.expire_all()
    return [(n.status, n.provider_message_id) for n in session.scalars(select(Notification).order_by(Notification.id))]


def test_claim_lease_follows_the_batch_size_and_the_channel_bound(app, runtime, session):
    # given: three shoppers, a channel that may take 60 s per message, a 30 s margin
    event, _ = _planned(session, runtime, 3)
    sender = _sender(runtime, RecordingChannel())

    # when
    with frozen(utcnow()):
        now = utcnow()
        with runtime.db.session() as s:
            claim = claim_batch(s, event.id, "email", 10, sender.lease_for)

    # then
    assert claim.lease_until == now + timedelta(seconds=3 * 60 + 30)
    session.expire_all()
    rows = session.scalars(select(Notification)).all()
    assert {(n.status, n.claim_token, n.lease_until) for n in rows} == {("sending", claim.token, claim.lease_until)}


def test_a_worker_whose_claim_was_recovered_and_reclaimed_sends_and_writes_nothing(app, runtime, session):
    # given: worker 1 claimed the row, then stalled past its lease before handing it off;
    # recovery put it back and worker 2 sent it
    event, subs = _planned(session, runtime)
    first, second = RecordingChannel(), RecordingChannel()
    with runtime.db.session() as s:
        claim = claim_batch(s, event.id, "email", 10, _sender(runtime, first).lease_for)
    with travel(timedelta(hours=1)):
        with runtime.db.session() as s:
            assert recover_stalled(s) == {"requeued": 1, "uncertain": 0}
        second_outcome = send_next_batch(runtime.db, event.id, "email", _sender(runtime, second))

    # when: worker 1 wakes up and goes on with its old claim
    outcome = BatchOutcome()
    deliver_batch(runtime.db, claim, _sender(runtime, first), outcome)

    # then
    assert second_outcome.sent == 1 and second.sent_to == ["s0@example.com"]
    assert first.sent_to == []
    assert (outcome.sent, outcome.lost) == (0, 1)
    assert _rows(session) == [("sent", f"id-{claim.notification_ids[0]}")]
    assert [d.decision for d in session.scalars(select(Decision))] == ["sent"]


def test_a_late_result_does_not_overwrite_a_row_recovery_marked_uncertain(app, runtime, session):
    # given: a provider so slow that the lease runs out mid-call and recovery marks the row uncertain
    event, subs = _planned(session, runtime)

    def lease_runs_out():
        with travel(timedelta(hours=1)), runtime.db.session() as s:
            recover_stalled(s)

    channel = RecordingChannel(on_send=lease_runs_out)

    # when: the provider's answer finally comes
    outcome = send_next_batch(runtime.db, event.id, "email", _sender(runtime, channel))

    # then: the row stays uncertain, the shopper is not marked notified, one decision only
    assert channel.sent_to == ["s0@example.com"]
    assert (outcome.sent, outcome.lost) == (0, 1)
    assert _rows(session) == [("uncertain", None)]
    assert session.get(Subscription, subs[0].id).status == "waiting"
    assert [d.decision for d in session.scalars(select(Decision))] == [
        "skipped: delivery uncertain (worker stopped mid-send)"]


def test_a_transient_failure_stores_when_the_retry_comes_at_the_latest(app, runtime, session):
    # given
    event, _ = _planned(session, runtime)
    channel = RecordingChannel(transient=True)

    # when
    with frozen(utcnow()):
        now = utcnow()
        outcome = send_next_batch(runtime.db, event.id, "email", _sender(runtime, channel),
                                  retry_window=timedelta(seconds=40))

    # then
    assert outcome.retrying == 1
    session.expire_all()
    row = session.scalars(select(Notification)).one()
    assert (row.status, row.retry_at, row.claim_token, row.lease_until, row.handed_off_at, row.attempts) == (
        "pending", now + timedelta(seconds=40), None, None, None, 1)


def test_recovery_leaves_a_chain_that_waits_out_a_backoff_or_is_sending(app, runtime, session):
    # given: event A backs off until 5 minutes from now; event B has a batch sending inside its
    # lease and pending rows behind it; event C's chain was lost
    backing_off, _ = _planned(session, runtime)
    shop_b = make_shop(session, domain="b.myshopify.com")
    make_variant(session, shop_b)
    for i in range(2):
        subscribe(session, runtime.vault, shop_b, f"b{i}@example.com")
    sending = make_event(session, shop_b)
    plan_restock(session, sending)
    shop_c = make_shop(session, domain="c.myshopify.com")
    make_variant(session, shop_c)
    subscribe(session, runtime.vault, shop_c, "c@example.com")
    lost = make_event(session, shop_c)
    plan_restock(session, lost)
    session.commit()
    row_a = session.scalars(select(Notification).where(Notification.restock_event_id == backing_off.id)).one()
    row_a.retry_at, row_a.attempts = utcnow() + timedelta(minutes=5), 1
    session.commit()
    with runtime.db.session() as s:
        claim_batch(s, sending.id, "email", 1, lambda n: timedelta(minutes=20))

    # when
    with runtime.db.session() as s:
        now_open = open_batches(s)
    with travel(timedelta(minutes=6)), runtime.db.session() as s:
        after_backoff = open_batches(s)
    with travel(timedelta(minutes=21)), runtime.db.session() as s:
        after_lease = open_batches(s)

    # then
    assert now_open == [(lost.id, "email")]
    assert after_backoff == [(backing_off.id, "email"), (lost.id, "email")]
    assert after_lease == [(backing_off.id, "email"), (sending.id, "email"), (lost.id, "email")]


class ScriptedChannel(RecordingChannel):
    """Answers each message with the next scripted result (fields of ``DeliveryResult``)."""

    def __init__(self, *script: dict):
        super().__init__()
        self.script = list(script)

    def send(self, messages):
        self.sent_to += [m.to for m in messages]
        return [DeliveryResult(m.notification_id, **fields) for m, fields in zip(messages, self.script)]


def test_an_unanswered_send_is_uncertain_and_a_throttled_one_waits_without_spending_an_attempt(app, runtime, session):
    # given three planned notices: the provider accepts one without answering, throttles one
    # for 90 s, and fails one with a 503
    event, subs = _planned(session, runtime, count=3)
    channel = ScriptedChannel({"ok": False, "uncertain": True, "error": "sendgrid did not answer (ReadTimeout)"},
                              {"ok": False, "transient": True, "counted": False, "retry_after": 90.0},
                              {"ok": False, "transient": True, "error": "sendgrid 503"})

    # when
    with frozen(utcnow()):
        now = utcnow()
        outcome = send_next_batch(runtime.db, event.id, "email", _sender(runtime, channel),
                                  retry_window=timedelta(seconds=40))

    # then the unanswered one is final and never claimed again; the other two wait at least 90 s
    assert (outcome.uncertain, outcome.retrying, outcome.retry_after) == (1, 2, 90.0)
    session.expire_all()
    rows = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert [(n.status, n.attempts, n.retry_at) for n in rows] == [
        ("uncertain", 1, None), ("pending", 0, now + timedelta(seconds=90)), ("pending", 1, now + timedelta(seconds=90))]
    assert session.get(Subscription, subs[0].id).status == "waiting"
    assert [d.decision for d in session.scalars(select(Decision))] == [
        "skipped: delivery uncertain (provider did not answer)"]
    with runtime.db.session() as s:
        again = claim_batch(s, event.id, "email", 10, lambda n: timedelta(minutes=1))
    assert again.notification_ids == [rows[1].id, rows[2].id]


def test_after_one_chains_429_the_other_chains_hold_their_calls_until_the_providers_wait_is_over(
        app, runtime, session, redis_url):
    # given a restock of 4 sent by two chains of 2-notice batches, the provider's pause shared through Redis
    event, _ = _planned(session, runtime, count=4)
    pauses = RedisPauses(redis_url)
    redis.Redis.from_url(redis_url).delete(PAUSE_KEY.format(channel="email"))
    throttled = ScriptedChannel(*[{"ok": False, "transient": True, "counted": False, "retry_after": 30.0}] * 2)
    other = RecordingChannel()
    throttled.max_batch = other.max_batch = 2

    # when the first chain's call is answered 429 (wait 30 s), then the second chain's batch comes up
    one = send_next_batch(runtime.db, event.id, "email", replace(_sender(runtime, throttled), pauses=pauses))
    two = send_next_batch(runtime.db, event.id, "email", replace(_sender(runtime, other), pauses=pauses))

    # then the second chain did not call the provider: its rows wait out the same pause, no attempt spent
    assert (one.retrying, one.retry_after) == (2, 30.0)
    assert other.sent_to == []
    assert two.retrying == 2 and 25 < two.retry_after <= 30
    session.expire_all()
    held = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert {(n.status, n.attempts, n.handed_off_at) for n in held} == {("pending", 0, None)}
    assert all(n.retry_at >= utcnow() + timedelta(seconds=25) for n in held if n.id in two.notification_ids)
    # and without the shared pause the same chain would have called (what the pause prevents)
    alone = RecordingChannel()
    with travel(timedelta(seconds=31)):
        send_next_batch(runtime.db, event.id, "email", _sender(runtime, alone))
    assert sorted(alone.sent_to) == [f"s{i}@example.com" for i in range(4)]
    redis.Redis.from_url(redis_url).delete(PAUSE_KEY.format(channel="email"))
