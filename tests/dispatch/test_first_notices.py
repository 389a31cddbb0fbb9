"""First notices in flight (``plugin.dispatch.first_notices``): listed while ``dispatch_restock``
sends, and a bulk batch gives way to them before its claim and before its record — bounded."""

from __future__ import annotations

import re
import threading
import time

import pytest
import redis
from sqlalchemy import func, select

from plugin.dispatch.channels.outbox import OutboxChannel
from plugin.dispatch.delivery import ChannelSender, send_next_batch
from plugin.celery_app import BULK_QUEUE
from plugin.dispatch.first_notices import KEY, MAX_WAIT, FirstNotices
from plugin.dispatch.plan import plan_restock
from plugin.dispatch.tasks import dispatch_restock, send_batch
from plugin.models import Notification, RestockEvent
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe_many
from tests.dispatch.test_worker_dispatch import _event_status, _seed
from tests.doubles.worker import wait_for


@pytest.fixture
def first_notices(redis_url):
    redis.Redis.from_url(redis_url).delete(KEY)
    yield FirstNotices(redis_url)
    redis.Redis.from_url(redis_url).delete(KEY)


def test_a_first_notice_is_listed_while_it_is_sent_and_only_then(first_notices, redis_url):
    other_process = FirstNotices(redis_url)
    # when two first notices are sent at once, then one is done
    with first_notices.sending():
        with other_process.sending():
            both = first_notices.in_flight()
        one = other_process.in_flight()
    # then each process sees both, then one, then none
    assert (both, one, first_notices.in_flight()) == (2, 1, 0)


def test_a_bulk_step_waits_until_the_first_notice_is_done(first_notices, redis_url):
    # given a first notice in flight in another process, done a tenth of a second from now
    done = threading.Event()

    def first_notice():
        with FirstNotices(redis_url).sending():
            listed.set()
            time.sleep(0.1)
            done.set()

    listed = threading.Event()
    sender = threading.Thread(target=first_notice)
    sender.start()
    listed.wait(5)

    # when a bulk step gives way, willing to wait five seconds
    waited = first_notices.give_way(max_wait=5)
    sender.join()

    # then it went on once the notice was done, not before, and not five seconds later
    assert done.is_set()
    assert 0.1 <= waited < 5


def test_a_bulk_step_waits_at_most_max_wait_and_not_at_all_when_nothing_is_in_flight(first_notices, redis_url):
    # when nothing is in flight, and then while a first notice never finishes
    idle = first_notices.give_way(max_wait=5)
    with FirstNotices(redis_url).sending():
        held = first_notices.give_way(max_wait=0.1)
        still = first_notices.in_flight()

    # then the first did not wait for the poll; the second gave up after its bound, the notice still listed
    assert idle < 0.1
    assert held >= 0.1 and still == 1


def test_the_token_of_a_process_that_died_mid_notice_stops_counting_at_its_deadline(first_notices, redis_url):
    # given a process that listed a first notice and died before it could take it off (no exit)
    dying = FirstNotices(redis_url, token_seconds=0.2).sending()
    dying.__enter__()
    listed = first_notices.in_flight()

    # when its deadline passes
    time.sleep(0.3)

    # then it no longer holds anybody back, and the next listing clears it away
    assert (listed, first_notices.in_flight()) == (1, 0)
    with first_notices.sending():
        pass
    assert redis.Redis.from_url(redis_url).zcard(KEY) == 0


def test_without_redis_a_first_notice_is_sent_and_a_bulk_step_goes_on(capfd):
    # given Redis unreachable (nothing listens on port 1)
    unreachable = FirstNotices("redis://127.0.0.1:1/0")
    # when a first notice is sent and a bulk step gives way
    with unreachable.sending():
        sent = True
    waited = unreachable.give_way(max_wait=5)
    # then neither raised, and the bulk step did not wait for the bound
    assert sent and waited < 5
    logged = "".join(capfd.readouterr())  # stdout too: structlog's default before the app configures it
    assert "first_notice_unlisted" in logged and "first_notices_unread" in logged


def test_a_bulk_batch_gives_way_before_its_claim_and_before_its_record(app, runtime, session, app_config):
    # given a planned restock whose batch is sent by a sender that notes, at each give-way, where
    # the batch's rows are
    shop = make_shop(session, settings={"batch_per_unit": None})
    make_variant(session, shop)
    subscribe_many(session, runtime.vault, shop, 3)
    event = make_event(session, shop)
    plan_restock(session, event)
    session.commit()
    delivery = ChannelSender(OutboxChannel(app_config["outbox_path"], max_batch=10), runtime.vault,
                             "http://127.0.0.1:8000", "hush")
    seen = []

    def give_way():
        with runtime.db.session() as s:
            seen.append(dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()))

    # when
    outcome = send_next_batch(runtime.db, event.id, "email", delivery, give_way=give_way)

    # then it looked before claiming (all pending) and before recording (handed off, not yet sent)
    assert outcome.sent == 3
    assert seen == [{"pending": 3}, {"sending": 3}]


@pytest.mark.worker
@pytest.mark.pg_only
def test_dispatch_restock_is_listed_while_its_first_batch_is_at_the_provider(
        sendgrid, celery_worker, app, runtime, session):
    # given a restock whose first mail the provider holds for half a second
    first_notices = FirstNotices(runtime.settings.redis_url)  # the worker's
    event_id, _ = _seed(session, runtime, 3)
    sendgrid.delay_seconds = 0.5
    counts = []

    # when the worker dispatches it, watched from here
    with app.app_context():
        dispatch_restock.delay(event_id)
    deadline = time.monotonic() + 60
    while _event_status(runtime, event_id) != "done" and time.monotonic() < deadline:
        counts.append(first_notices.in_flight())
        time.sleep(0.01)
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=30, worker=celery_worker)

    # then it was listed while the mail was at the provider, and is not any more
    assert max(counts) == 1
    assert first_notices.in_flight() == 0
    assert len(sendgrid.requests) == 1


@pytest.mark.worker
@pytest.mark.pg_only
def test_a_bulk_send_batch_gives_way_to_a_first_notice_in_flight_and_still_sends(
        sendgrid, celery_worker, app, runtime, session):
    # given a planned restock, and another shop's first notice in flight that never finishes
    # (a process that hangs: its token counts for ten seconds)
    event_id, emails = _seed(session, runtime, 3)
    with runtime.db.session() as s:
        plan_restock(s, s.get(RestockEvent, event_id))
    stuck = FirstNotices(runtime.settings.redis_url).sending()
    stuck.__enter__()

    # when one of its batches comes from the bulk queue
    with app.app_context():
        send_batch.apply_async((event_id, "email"), queue=BULK_QUEUE)
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=30, worker=celery_worker)

    # then it waited before its claim and before its record, each time at most the bound, and sent
    waits = [float(w) for w in re.findall(r"bulk_gave_way.*?waited_ms=([0-9.]+)", celery_worker.log_path.read_text())]
    assert len(waits) == 2 and all(MAX_WAIT * 1000 <= w < MAX_WAIT * 1000 + 1000 for w in waits)
    assert sorted(sendgrid.recipients()) == sorted(emails)
