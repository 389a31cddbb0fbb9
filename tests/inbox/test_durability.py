"""The inbox under faults, on PostgreSQL + Redis with a real Celery worker: a handler that fails
once, a worker killed mid-handler, a broker that loses its queue. Every accepted webhook ends
handled exactly once; the re-drive is run by the test (as beat would) with the clock moved past
the row's lease."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from plugin import clock
from plugin.inbox import deliveries, topics
from plugin.models import Decision, InboxDelivery, Notification, RestockEvent
from tests.doubles.worker import wait_for
from tests.webhooks.delivery import DEMO_SHOP, add_variant_row, add_waiting, deliver, level_payload

pytestmark = pytest.mark.pg_only

VARIANT, ITEM, WAREHOUSE = 7001, 7101, 71
SHOPPERS = ["ada@gmail.com", "grace@gmail.com", "linus@gmail.com"]


def _row(runtime, webhook_id: str) -> InboxDelivery | None:
    with runtime.db.session() as s:
        return s.scalar(select(InboxDelivery).where(InboxDelivery.webhook_id == webhook_id))


def _count(runtime, model, *where) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop) -> None:
    """SHOPPERS waiting on a variant our mirror has sold out, whose stock is back (5) in Shopify."""
    shopify_admin.add_variant(DEMO_SHOP, VARIANT, inventory_item_id=ITEM, levels={WAREHOUSE: 0})
    add_variant_row(session, installed_shop.id, VARIANT, ITEM, 0)
    for email in SHOPPERS:
        add_waiting(session, runtime.vault, installed_shop.id, VARIANT, email)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 5)


def _redrive(app) -> None:
    """What beat does every minute, run once with the clock past every lease."""
    celery = app.extensions["celery"]
    celery.set_current()
    with clock.travel(deliveries.BACKOFF_CAP + timedelta(minutes=1)):
        celery.tasks["backbell.redrive_inbox"].apply(throw=True)


def _handled_exactly_once(runtime, sendgrid, webhook_id: str, worker=None) -> None:
    # (the worker records "sent" just after the provider answered: wait for it)
    wait_for(lambda: _count(runtime, Notification, Notification.status == "sent") >= len(SHOPPERS), timeout=30,
             worker=worker)
    row = _row(runtime, webhook_id)
    assert row.processed_at is not None and row.parked_at is None
    assert _count(runtime, RestockEvent) == 1
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
    assert _count(runtime, Notification, Notification.status == "sent") == len(SHOPPERS)


@contextmanager
def fails_once(runtime, table: str, per: str = "ROW"):
    """PostgreSQL itself refuses the first insert into ``table`` (a trigger ``FOR EACH {per}``; a
    sequence is not rolled back, so only the first call fails) — a real database error."""
    statements = [
        "CREATE SEQUENCE inject_failure_once",
        "CREATE FUNCTION inject_failure_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF nextval('inject_failure_once') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
        f"CREATE TRIGGER inject_failure_once BEFORE INSERT ON {table} FOR EACH {per} EXECUTE FUNCTION inject_failure_once()",
    ]
    with runtime.db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        with runtime.db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER inject_failure_once ON {table}")
            conn.exec_driver_sql("DROP FUNCTION inject_failure_once()")
            conn.exec_driver_sql("DROP SEQUENCE inject_failure_once")


@pytest.fixture
def database_fails_once(runtime):
    """The first restock insert fails in the middle of the handler."""
    with fails_once(runtime, "restock_events"):
        yield


@pytest.mark.worker
def test_a_handler_that_fails_once_still_ends_processed(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop, database_fails_once
):
    # given shoppers waiting and the stock back in Shopify
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    # when the webhook arrives and its first handling fails in the database
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id="fails-once").status_code == 200
    failed = wait_for(lambda: (r := _row(runtime, "fails-once")) and r.last_error and r, worker=celery_worker)
    assert (failed.processed_at, failed.attempts) == (None, 1)
    assert "injected failure" in failed.last_error
    assert _count(runtime, RestockEvent) == 0
    # when the re-drive queues it again
    _redrive(app)
    wait_for(lambda: _row(runtime, "fails-once").processed_at, timeout=30, worker=celery_worker)
    wait_for(lambda: len(sendgrid.messages) >= len(SHOPPERS), timeout=30, worker=celery_worker)
    # then it was handled once, on its second attempt
    _handled_exactly_once(runtime, sendgrid, "fails-once", celery_worker)
    assert _row(runtime, "fails-once").attempts == 2


@pytest.mark.worker
def test_a_worker_killed_mid_handler_leaves_the_row_to_be_redriven_once(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given a slow Shopify, so the worker is inside the handler when it dies
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    shopify_admin.graphql_delay = 3.0
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id="killed").status_code == 200
    wait_for(lambda: shopify_admin.graphql_requests("VariantStock"), timeout=30, worker=celery_worker)
    # when the worker is SIGKILLed mid-request and a new one starts
    celery_worker.kill()
    shopify_admin.graphql_delay = 0.0
    celery_worker.start()
    row = _row(runtime, "killed")
    assert (row.processed_at, row.attempts) == (None, 1)
    # when the re-drive runs (the killed task's message is only redelivered after Redis's visibility timeout)
    _redrive(app)
    wait_for(lambda: _row(runtime, "killed").processed_at, timeout=30, worker=celery_worker)
    wait_for(lambda: len(sendgrid.messages) >= len(SHOPPERS), timeout=30, worker=celery_worker)
    # then it took effect exactly once
    _handled_exactly_once(runtime, sendgrid, "killed", celery_worker)
    assert _row(runtime, "killed").attempts == 2
    # and running it again (the redelivered old message: the drain it was in) changes nothing
    app.extensions["celery"].tasks["backbell.drain_inbox"].delay()
    wait_for(lambda: celery_worker.queue_length() == 0, timeout=30, worker=celery_worker)
    _handled_exactly_once(runtime, sendgrid, "killed", celery_worker)


@pytest.mark.worker
def test_a_flushed_broker_loses_no_accepted_webhook(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given no worker running, so the queued drain sits in Redis
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    celery_worker.stop()
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id="flushed").status_code == 200
    assert celery_worker.queue_length() == 1
    # when Redis loses everything before a worker took it
    redis.Redis.from_url(celery_worker.redis_url).flushdb()
    celery_worker.start()
    # then the row waits, unhandled, until the re-drive queues it again
    assert _row(runtime, "flushed").processed_at is None
    _redrive(app)
    wait_for(lambda: _row(runtime, "flushed").processed_at, timeout=30, worker=celery_worker)
    wait_for(lambda: len(sendgrid.messages) >= len(SHOPPERS), timeout=30, worker=celery_worker)
    _handled_exactly_once(runtime, sendgrid, "flushed", celery_worker)
    assert _row(runtime, "flushed").attempts == 1
    assert _count(runtime, Decision, Decision.decision == "sent") == len(SHOPPERS)


def test_two_runs_of_the_same_row_at_once_take_effect_once(shopify_admin, runtime, session, installed_shop):
    # given a restock delivery stored in the inbox, and a slow Shopify so both runs overlap
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    shopify_admin.graphql_delay = 1.0
    with runtime.db.session() as s:
        inbox_id = deliveries.accept(s, runtime.vault, webhook_id="raced", shop_domain=DEMO_SHOP,
                                     topic="inventory_levels/update",
                                     body=json.dumps(level_payload(ITEM, WAREHOUSE, 5)), triggered_at=None).inbox_id
    # when the original task and a re-drive both started an attempt, and run it at the same time
    with runtime.db.session() as s:
        claims = [deliveries.start_attempt(s, inbox_id), deliveries.start_attempt(s, inbox_id)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: topics.handle_delivery(runtime, c.decrypted(runtime.vault)), claims))
    # then one run declared the restock and the other found the row handled
    assert sorted(len(r) for r in results) == [0, 1]
    assert _count(runtime, RestockEvent) == 1
    row = _row(runtime, "raced")
    assert (row.attempts, row.last_error) == (2, None) and row.processed_at is not None
