"""Dispatch through a REAL Celery worker on Redis, sending to the SendGrid double."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.clock import travel
from plugin.models import SENDING, PENDING, Notification, RestockEvent
from plugin.dispatch.tasks import dispatch_restock, recover_dispatch
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
    shop = make_shop(session)
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
    # given: two batches (1000 + 500); the provider takes the first and then hangs
    event_id, emails = _seed(session, runtime, 1500)
    sendgrid.delay_seconds = 60
    with app.app_context():
        dispatch_restock.delay(event_id)
    wait_for(lambda: len(sendgrid.requests) == 1, worker=celery_worker)

    # when: the worker dies during the call, a new one starts and, once the batch's lease has run
    # out (an hour on: the lease of 1,000 SendGrid recipients is 38 minutes), the beat's recovery runs
    celery_worker.kill()
    sendgrid.delay_seconds = 0
    celery_worker.start()
    with app.app_context(), travel(timedelta(hours=1)):
        recover_dispatch.apply()
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=60, worker=celery_worker)

    # then
    received = Counter(sendgrid.recipients())
    assert max(received.values()) == 1
    assert sorted(received) == emails
    assert _statuses(runtime, event_id) == {"uncertain": 1000, "sent": 500}
    assert PENDING not in _statuses(runtime, event_id) and SENDING not in _statuses(runtime, event_id)
