"""Dispatch through a REAL Celery worker on Redis, sending to the SendGrid double."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.clock import travel
from plugin.dispatch.plan import recover_stalled
from plugin.models import PENDING, SENDING, Decision, Notification, RestockEvent, Subscription
from plugin.dispatch.tasks import FIRST_BATCH, dispatch_restock, recover_dispatch
from tests.dispatch.builders import make_event, make_shop, make_variant, subscribe_many
from tests.doubles.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.pg_only]


def _statuses(runtime, event_id: int) -> dict[str, int]:
    with runtime.db.session() as s:
        rows = s.execute(select(Notification.status, func.count()).where(Notification.restock_event_id == event_id)
                         .group_by(Notification.status))
        return dict(rows.all())


def _event_status(runtime, event_id: int) -> str:
    with runtime.db.session() as s:
        return s.get(RestockEvent, event_id).status


def _seed(session, runtime, count: int) -> tuple[int, list[str]]:
    # Everybody at once: these tests are about claims and send batches, not batches by stock.
    shop = make_shop(session, settings={"batch_per_unit": None})
    make_variant(session, shop, available=10)
    emails = subscribe_many(session, runtime.vault, shop, count)
    event = make_event(session, shop, available=10)
    session.commit()
    return event.id, emails


def test_worker_sends_each_waiting_shopper_exactly_once(sendgrid, celery_worker, app, runtime, session):
    # given
    event_id, emails = _seed(session, runtime, 25)

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: _event_status(runtime, event_id) == "done", worker=celery_worker)

    # then
    assert sendgrid.recipients() == emails
    assert _statuses(runtime, event_id) == {"sent": 25}
    assert all(m["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in sendgrid.messages)


def test_re_dispatching_a_sent_restock_sends_nothing_more(sendgrid, celery_worker, app, runtime, session):
    # given
    event_id, emails = _seed(session, runtime, 5)
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: _event_status(runtime, event_id) == "done", worker=celery_worker)

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)
        dispatch_restock.delay(event_id)
    wait_for(lambda: celery_worker.queue_length() == 0, worker=celery_worker)
    with app.app_context():
        # A task queued behind the re-dispatches proves the worker got past them.
        recover_dispatch.delay()
    wait_for(lambda: celery_worker.queue_length() == 0, worker=celery_worker)

    # then
    assert sendgrid.recipients() == emails
    assert len(sendgrid.requests) == 1
    assert _statuses(runtime, event_id) == {"sent": 5}


def test_worker_killed_mid_send_never_sends_twice(sendgrid, celery_worker, app, runtime, session):
    # given: 1,500 shoppers — the restock's first batch (FIRST_BATCH, 100), then the chains' batches;
    # the provider takes the first and then hangs
    event_id, emails = _seed(session, runtime, 1500)
    sendgrid.delay_seconds = 60
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: len(sendgrid.requests) == 1, worker=celery_worker)

    # when: the worker dies during the call, the beat's recovery runs once the batch's lease has run
    # out (an hour on: the lease of 1,000 SendGrid recipients is 38 minutes), and a new worker starts.
    # (Recovery first, as in tests/faults/test_fanout_faults.py: only this test's clock moves, so a
    # batch of the restock's queued send chains that the new worker had just claimed would look an
    # hour old to it — a race a worker that warms up before its first task lost.)
    celery_worker.kill()
    sendgrid.delay_seconds = 0
    with app.app_context(), travel(timedelta(hours=1)):
        recover_dispatch.apply()
    celery_worker.start()
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=60, worker=celery_worker)

    # then
    received = Counter(sendgrid.recipients())
    assert max(received.values()) == 1
    assert sorted(received) == emails
    assert _statuses(runtime, event_id) == {"uncertain": FIRST_BATCH, "sent": 1500 - FIRST_BATCH}
    assert PENDING not in _statuses(runtime, event_id) and SENDING not in _statuses(runtime, event_id)


def _decisions(runtime, event_id: int) -> list[tuple[str, dict | None]]:
    with runtime.db.session() as s:
        return [(d.decision, d.detail) for d in s.scalars(
            select(Decision).where(Decision.restock_event_id == event_id).order_by(Decision.id))]


def test_one_address_sendgrid_rejects_fails_alone_and_the_other_999_are_sent(sendgrid, celery_worker, app, runtime,
                                                                             session):
    # given: 1,000 shoppers (one SendGrid batch); SendGrid refuses one address
    event_id, emails = _seed(session, runtime, 1000)
    bad = emails[637]
    sendgrid.reject(bad)

    # when
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=60, worker=celery_worker)

    # then
    received = Counter(sendgrid.recipients())
    assert sorted(received) == sorted(set(emails) - {bad})
    assert set(received.values()) == {1}
    assert _statuses(runtime, event_id) == {"sent": 999, "failed": 1}
    failed = [(decision, detail) for decision, detail in _decisions(runtime, event_id) if decision != "sent"]
    assert failed == [("failed: rejected by provider",
                       {"channel": "email", "attempts": 1, "error": "sendgrid 400: Does not contain a valid address."})]
    with runtime.db.session() as s:
        failed_row = s.scalars(select(Notification).where(Notification.status == "failed")).one()
        assert s.get(Subscription, failed_row.subscription_id).status == "waiting"


@pytest.fixture
def short_lease(app_config):
    """A 1 s lease margin: what a fixed lease would be, shortened so the test stays short. The
    request timeout stays well above the double's answer (3 s delay + validating 1,000 recipients,
    which passed 6 s on a loaded machine: an answer after the timeout is uncertain, not re-sent)."""
    app_config.update(dispatch_lease_margin_seconds=1, sendgrid_timeout_seconds=30)


def test_a_provider_slower_than_the_old_lease_is_waited_for_and_nothing_is_sent_twice(
        sendgrid, short_lease, celery_worker, app, runtime, session):
    # given: SendGrid answers each request after 3 s (three times the margin); 1,500 shoppers
    # make several batches (the first of 100, then up to 1,000 each)
    sendgrid.delay_seconds = 3
    event_id, emails = _seed(session, runtime, 1500)

    # when: the beat's recovery runs every half second while the worker sends
    with app.app_context():
        dispatch_restock.delay(event_id)
    seen, recovered = set(), []
    deadline = time.monotonic() + 60
    while _event_status(runtime, event_id) != "done" and time.monotonic() < deadline:
        with runtime.db.session() as s:
            recovered.append(recover_stalled(s))
        with app.app_context():
            recover_dispatch.apply()
        seen |= set(_statuses(runtime, event_id))
        time.sleep(0.5)

    # then
    assert _event_status(runtime, event_id) == "done", celery_worker.log_tail()
    assert "sending" in seen and "uncertain" not in seen
    assert all(counts == {"requeued": 0, "uncertain": 0} for counts in recovered) and len(recovered) >= 6
    received = Counter(sendgrid.recipients())
    assert sorted(received) == emails and set(received.values()) == {1}
    # (every request accepted once: none was tried again; how many there are depends on whether
    # the test's recovery also started the restock — a second first batch of 100, never a resend)
    assert {r["status"] for r in sendgrid.requests} == {202}
    assert sum(len(r["body"]["personalizations"]) for r in sendgrid.requests) == 1500
    assert _statuses(runtime, event_id) == {"sent": 1500}
