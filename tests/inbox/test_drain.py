"""The inbox drain: a burst of webhooks queues one drain (not one task each), drains share a burst
without handling a row twice, a webhook that arrives after a drain cleared its flag gets a drain of
its own, and what a lost drain leaves is handled by the re-drive.

"Queued" is read from the broker's Redis (the list the worker pops); where no worker runs, the test
runs the queued drain itself."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, text

from plugin import clock, create_app
from plugin.celery_app import DEFAULT_QUEUE
from plugin.inbox import deliveries
from plugin.inbox.tasks import DRAIN_INBOX, DRAIN_PENDING, DRAIN_PENDING_TTL
from plugin.models import InboxDelivery, Notification, RestockEvent
from plugin.publisher import TaskPublisher
from tests.doubles.worker import wait_for
from tests.inbox.test_durability import ITEM, SHOPPERS, WAREHOUSE, _count, _restocked_variant_with_shoppers
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload

BATCH = deliveries.DRAIN_BATCH


def _queued(redis_url: str) -> list[tuple[str, list]]:
    """(task name, arguments) of each message on the default queue, oldest first."""
    raw = reversed(redis.Redis.from_url(redis_url).lrange(DEFAULT_QUEUE, 0, -1))
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in map(json.loads, raw)]


def _rows(runtime) -> list[InboxDelivery]:
    with runtime.db.session() as s:
        return list(s.scalars(select(InboxDelivery).order_by(InboxDelivery.id)))


def _handled_once(rows: list[InboxDelivery]) -> bool:
    """Every row handled, on one attempt: a second claim of a row would have counted a second."""
    return all(row.processed_at is not None and row.attempts == 1 and row.last_error is None for row in rows)


def _burst(client, count: int, prefix: str) -> None:
    """``count`` webhooks of a topic the app accepts and ignores (handled in no time)."""
    for n in range(count):
        assert deliver(client, "carts/update", {"id": n}, webhook_id=f"{prefix}-{n}").status_code == 200


@pytest.fixture
def broker(app, app_config, celery_redis_url):
    """An app queueing on Redis that no worker consumes (the ``app`` fixture empties the tables after),
    the broker empty before and after."""
    client = redis.Redis.from_url(celery_redis_url)
    client.flushdb()
    queueing = create_app({**app_config, "redis_url": celery_redis_url})
    yield queueing
    queueing.extensions["backbell"].db.dispose()
    client.flushdb()


def _run_queued_drains(app, redis_url: str) -> int:
    """Take the queued drains off the broker and run them here, as a worker would, until none is
    left; how many ran."""
    ran, client = 0, redis.Redis.from_url(redis_url)
    while client.rpop(DEFAULT_QUEUE) is not None:
        app.extensions["celery"].tasks[DRAIN_INBOX]()
        ran += 1
    return ran


def test_a_drain_in_process_handles_every_new_row_and_logs_their_ids_a_line_per_batch(app, client, runtime, capsys):
    # given tasks in-process (no broker: SQLite's default) and new rows in the inbox
    with runtime.db.session() as s:
        for n in range(BATCH * 2 + 5):
            deliveries.accept(s, runtime.vault, webhook_id=f"in-process-{n}", shop_domain=DEMO_SHOP,
                              topic="carts/update", body="{}", triggered_at=None)
    capsys.readouterr()
    # when a drain runs
    app.extensions["celery"].tasks[DRAIN_INBOX].delay()
    # then each row was handled once (the full batches' follow-on drains ran here too)
    rows = _rows(runtime)
    assert len(rows) == BATCH * 2 + 5 and _handled_once(rows)
    # and the log names every webhook id once, a line per batch (the view logs none at info)
    lines = [line for line in capsys.readouterr().err.splitlines() if "event='inbox_claimed'" in line]
    assert [line.split("count=")[1].split()[0] for line in lines] == [str(BATCH), str(BATCH), "5"]
    assert sorted(id_ for line in lines for id_ in re.findall(r"in-process-\d+", line)) == sorted(r.webhook_id for r in rows)


@pytest.mark.pg_only
def test_a_burst_queues_one_drain_and_the_drains_take_every_row_once(broker, celery_redis_url):
    # given no worker running
    client = broker.test_client()
    # when a burst of webhooks arrives
    _burst(client, BATCH * 2 + 5, "burst")
    # then one drain is queued for all of them — no arguments — and its flag stands, for a while only
    assert _queued(celery_redis_url) == [(DRAIN_INBOX, [])]
    assert 0 < redis.Redis.from_url(celery_redis_url).ttl(DRAIN_PENDING) <= DRAIN_PENDING_TTL
    # when that drain runs (and the drains it queues for the rest of a full batch)
    ran = _run_queued_drains(broker, celery_redis_url)
    # then every row was handled once, in three drains: 10, 10 and 5 rows
    rows = _rows(broker.extensions["backbell"])
    assert len(rows) == BATCH * 2 + 5 and _handled_once(rows)
    assert ran == 3


@pytest.mark.pg_only
def test_a_claim_skips_the_rows_another_drain_holds(broker, celery_redis_url):
    # given a burst stored
    runtime = broker.extensions["backbell"]
    _burst(broker.test_client(), BATCH * 3, "held")
    ids = [row.id for row in _rows(runtime)]
    # when one drain has claimed its batch and not yet committed, another claims
    with runtime.db.session() as first, runtime.db.session() as second:
        held = deliveries.claim_new(first)
        second.execute(text("SET LOCAL lock_timeout = '5s'"))  # a claim that waited on the first would fail, not hang
        other = deliveries.claim_new(second)
        second.commit()
        # then the second skipped the rows the first holds
        assert ([c.inbox_id for c in held], [c.inbox_id for c in other]) == (ids[:BATCH], ids[BATCH:BATCH * 2])
    # and once both committed, a third claim finds neither's rows new
    with runtime.db.session() as third:
        assert [c.inbox_id for c in deliveries.claim_new(third)] == ids[BATCH * 2:]


@pytest.mark.pg_only
def test_two_drains_at_once_never_handle_a_row_twice(broker, celery_redis_url):
    # given a burst stored, its drain taken off the queue
    runtime = broker.extensions["backbell"]
    _burst(broker.test_client(), BATCH * 4 + 3, "together")
    redis.Redis.from_url(celery_redis_url).delete(DEFAULT_QUEUE)
    # when two drains run at the same moment on two threads, then the follow-on drains they queued
    start = threading.Barrier(2)
    drain = broker.extensions["celery"].tasks[DRAIN_INBOX]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: (start.wait(), drain()), range(2)))
    followed = _run_queued_drains(broker, celery_redis_url)
    # then every row was handled, on one attempt: no row was claimed twice
    rows = _rows(runtime)
    assert len(rows) == BATCH * 4 + 3 and _handled_once(rows)
    assert followed >= 2  # each of the two found a full batch


class _ArrivesAfterClear(TaskPublisher):
    """The web process's publisher, with a webhook arriving right after the drain cleared its flag."""

    def __init__(self, celery, arrival):
        super().__init__(celery)
        self.arrival = arrival

    def clear_pending(self, flag: str) -> None:
        super().clear_pending(flag)
        self.arrival()


@pytest.mark.pg_only
def test_a_webhook_stored_after_a_drain_cleared_its_flag_gets_a_drain(broker, celery_redis_url):
    # given one webhook, its drain queued, taken by a worker (here)
    client = broker.test_client()
    _burst(client, 1, "first")
    assert redis.Redis.from_url(celery_redis_url).rpop(DEFAULT_QUEUE) is not None
    # when the drain runs, and a second webhook is stored just after it cleared the flag
    broker.extensions["task_publisher"] = _ArrivesAfterClear(broker.extensions["celery"],
                                                             lambda: _burst(client, 1, "second"))
    broker.extensions["celery"].tasks[DRAIN_INBOX]()
    # then the second webhook queued a drain of its own (it found no flag), and the running drain's
    # claim, after the clear, took it too
    assert _queued(celery_redis_url) == [(DRAIN_INBOX, [])]
    assert _handled_once(_rows(broker.extensions["backbell"]))
    # when the drain the second webhook queued runs (finding nothing new), and a third webhook arrives
    broker.extensions["task_publisher"] = TaskPublisher(broker.extensions["celery"])
    assert _run_queued_drains(broker, celery_redis_url) == 1
    _burst(client, 1, "third")
    # then the third has a drain queued too, and that drain handles it
    assert _queued(celery_redis_url) == [(DRAIN_INBOX, [])]
    assert _run_queued_drains(broker, celery_redis_url) == 1
    rows = _rows(broker.extensions["backbell"])
    assert [r.webhook_id for r in rows] == ["first-0", "second-0", "third-0"] and _handled_once(rows)


@pytest.mark.pg_only
def test_a_lost_drain_holds_back_the_next_for_its_flags_lifetime_only(broker, celery_redis_url):
    # given a burst whose drain was lost (a flushed queue), its flag still standing
    client, queue = broker.test_client(), redis.Redis.from_url(celery_redis_url)
    _burst(client, 3, "lost")
    queue.delete(DEFAULT_QUEUE)
    # when more webhooks arrive while the flag stands
    _burst(client, 2, "held")
    # then none of them queued a drain
    assert _queued(celery_redis_url) == []
    # when the flag has expired and one more arrives
    queue.pexpire(DRAIN_PENDING, 1)
    time.sleep(0.01)
    _burst(client, 1, "after")
    # then it queued a drain, which takes the earlier rows too
    assert _run_queued_drains(broker, celery_redis_url) == 1
    rows = _rows(broker.extensions["backbell"])
    assert len(rows) == 6 and _handled_once(rows)


@pytest.mark.pg_only
@pytest.mark.worker
def test_a_burst_is_one_drain_on_the_broker_and_a_real_worker_handles_every_webhook_once(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given shoppers waiting, the stock back in Shopify, and no worker running
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    celery_worker.stop()
    # when a burst arrives: other topics, the restock in the middle
    _burst(client, BATCH, "before")
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id="restock").status_code == 200
    _burst(client, BATCH, "after")
    # then the broker holds one drain, no arguments
    assert _queued(celery_worker.redis_url) == [(DRAIN_INBOX, [])]
    # when a worker starts
    celery_worker.start()
    # then every webhook is handled once, and the restock's shoppers are told once
    wait_for(lambda: _handled_once(_rows(runtime)), timeout=30, worker=celery_worker)
    assert len(_rows(runtime)) == 2 * BATCH + 1
    wait_for(lambda: _count(runtime, Notification, Notification.status == "sent") == len(SHOPPERS), timeout=30,
             worker=celery_worker)
    assert _count(runtime, RestockEvent) == 1
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
    wait_for(celery_worker.settled, timeout=30, worker=celery_worker)
    assert _queued(celery_worker.redis_url) == []


@pytest.mark.pg_only
@pytest.mark.worker
def test_rows_a_lost_drain_left_are_handled_by_the_redrive_after_their_lease(
    celery_worker, app, client, runtime
):
    # given no worker running, a burst, and its drain lost before a worker took it
    celery_worker.stop()
    _burst(client, 3, "orphan")
    redis.Redis.from_url(celery_worker.redis_url).delete(DEFAULT_QUEUE)
    # when a worker starts
    celery_worker.start()
    # then nothing handles the rows (no drain is queued) …
    time.sleep(1)
    assert [row.processed_at for row in _rows(runtime)] == [None, None, None]
    # … until the re-drive (what beat does every minute) runs after their lease
    celery = app.extensions["celery"]
    celery.set_current()
    with clock.travel(deliveries.FIRST_LEASE + timedelta(seconds=1)):
        celery.tasks["backbell.redrive_inbox"].apply(throw=True)
    wait_for(lambda: _handled_once(_rows(runtime)), timeout=30, worker=celery_worker)
