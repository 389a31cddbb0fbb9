"""Bulk batches take turns while other shops are restocking (``plugin.dispatch.turns``): one at a
time fleet-wide then, all at once otherwise; a turn is waited for within a bound, freed only by its
holder; Redis trouble never stops a send."""

from __future__ import annotations

import re
import threading
import time

import pytest
import redis

from plugin.celery_app import BULK_QUEUE
from plugin.dispatch.plan import plan_restock
from plugin.dispatch.tasks import dispatch_restock, send_batch
from plugin.dispatch.turns import RESTOCKING_KEY, TURN_KEY, BulkTurns
from plugin.models import RestockEvent, Shop
from tests.dispatch.builders import make_event
from tests.dispatch.conftest import cleared_turns
from tests.dispatch.test_worker_dispatch import _event_status, _seed
from tests.doubles.worker import wait_for

SHOP, OTHER = 101, 202


@pytest.fixture
def turns(redis_url):
    with cleared_turns(redis_url):
        yield BulkTurns(redis_url, window=0.5, max_wait=5)


def _overlapping(turns: BulkTurns, shop_id: int) -> bool:
    """Two batches of ``shop_id`` started together: did they run at the same time?"""
    spans = []

    def batch() -> None:
        def work():
            started = time.monotonic()
            time.sleep(0.15)
            spans.append((started, time.monotonic()))
        turns.run(work, lambda: shop_id)

    threads = [threading.Thread(target=batch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    (_, first_end), (second_start, _) = sorted(spans)
    return second_start < first_end


def test_only_another_shops_restock_counts_and_only_within_the_window(turns):
    # when our shop restocks, then another, then the window passes
    turns.restocking(SHOP)
    own_only = turns.others_restocking(lambda: SHOP)
    turns.restocking(OTHER)
    with_other = turns.others_restocking(lambda: SHOP)
    other_sees_ours = turns.others_restocking(lambda: OTHER)
    no_restock = turns.others_restocking(lambda: None)  # eta and confirmation notices
    time.sleep(0.6)
    later = turns.others_restocking(lambda: SHOP)
    # then
    assert (own_only, with_other, other_sees_ours, no_restock, later) == (False, True, True, True, False)


def test_while_another_shop_restocks_bulk_batches_go_one_at_a_time_and_otherwise_together(turns):
    alone = _overlapping(turns, SHOP)
    turns.restocking(SHOP)
    own_restock = _overlapping(turns, SHOP)
    turns.restocking(OTHER)
    sharing = _overlapping(turns, SHOP)
    assert (alone, own_restock, sharing) == (True, True, False)


def test_a_batch_waits_for_the_turn_at_most_max_wait_then_goes(turns, redis_url):
    # given another shop restocking, and the turn held by a batch that hangs
    client = redis.Redis.from_url(redis_url)
    turns.restocking(OTHER)
    client.set(TURN_KEY, "hung", px=60_000)
    bounded = BulkTurns(redis_url, window=0.5, max_wait=0.2)
    # when a batch of ours comes
    started = time.monotonic()
    result = bounded.run(lambda: "sent", lambda: SHOP)
    waited = time.monotonic() - started
    # then it waited for the bound, went anyway, and left the hung batch's turn alone
    assert result == "sent"
    assert 0.2 <= waited < 2
    assert client.get(TURN_KEY) == b"hung"


def test_a_turn_is_freed_by_its_holder_only(turns, redis_url):
    client = redis.Redis.from_url(redis_url)
    turns.restocking(OTHER)
    # when a batch's turn is freed, and when its lease ran out and another batch took the turn
    turns.run(lambda: None, lambda: SHOP)
    freed = client.get(TURN_KEY)
    turns.run(lambda: client.set(TURN_KEY, "next batch", px=60_000), lambda: SHOP)
    # then the first is gone, the other batch's turn stays
    assert (freed, client.get(TURN_KEY)) == (None, b"next batch")


def test_a_failing_batch_frees_its_turn(turns, redis_url):
    turns.restocking(OTHER)

    def fails():
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        turns.run(fails, lambda: SHOP)
    assert redis.Redis.from_url(redis_url).get(TURN_KEY) is None


def test_without_redis_a_restock_is_noted_nowhere_and_a_batch_goes_on(capfd):
    # given Redis unreachable (nothing listens on port 1)
    unreachable = BulkTurns("redis://127.0.0.1:1/0")
    # when a restock is noted and a batch runs
    unreachable.restocking(OTHER)
    result = unreachable.run(lambda: "sent", lambda: SHOP)
    # then neither raised, and both said so
    assert result == "sent"
    logged = "".join(capfd.readouterr())  # stdout too: structlog's default before the app configures it
    assert "restock_unnoted" in logged and "bulk_turn_unread" in logged


@pytest.mark.worker
@pytest.mark.pg_only
def test_dispatch_restock_notes_its_shop_and_a_bulk_batch_takes_its_turn(
        sendgrid, celery_worker, app, runtime, session, worker_turns):
    # given a planned restock of one shop, while another shop restocks and a batch of it holds the
    # turn for a moment
    client = worker_turns
    event_id, emails = _seed(session, runtime, 3)
    with runtime.db.session() as s:
        event = s.get(RestockEvent, event_id)
        shop_id = event.shop_id
        plan_restock(s, event)
    BulkTurns(runtime.settings.redis_url).restocking(shop_id + 1)
    client.set(TURN_KEY, "another batch", px=1000)

    # when one of its batches comes from the bulk queue
    with app.app_context():
        send_batch.apply_async((event_id, "email"), queue=BULK_QUEUE)
    wait_for(lambda: _event_status(runtime, event_id) == "done", timeout=30, worker=celery_worker)

    # then it waited for the turn (freed when that lease ran out), sent everyone, and freed its own
    # (how long depends on when the worker picked the batch up: under load, most of the lease may be gone)
    log = celery_worker.log_path.read_text()
    waits = [float(w) for w in re.findall(r"bulk_turn_waited.*?waited_ms=([0-9.]+)", log)]
    assert len(waits) == 1 and 0 < waits[0] < 2000
    assert "bulk_turn_skipped" not in log
    assert sorted(sendgrid.recipients()) == sorted(emails)
    assert client.get(TURN_KEY) is None

    # and when the shop restocks again (nobody is left waiting), the worker's dispatch notes it
    assert client.zscore(RESTOCKING_KEY, str(shop_id)) is None
    second = make_event(session, session.get(Shop, shop_id), available=10).id
    session.commit()
    with app.app_context():
        dispatch_restock.delay(second)
    wait_for(lambda: _event_status(runtime, second) == "done", timeout=30, worker=celery_worker)
    assert client.zscore(RESTOCKING_KEY, str(shop_id)) is not None
