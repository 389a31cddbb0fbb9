"""The webhook task dispatches the restocks it finds itself, without a second trip through the broker
(during another shop's fan-out each trip waits for a worker process to come free); when that
dispatch fails, the restock goes through the broker instead and is still sent exactly once.

The worker is stopped while the webhook task runs in the test process, so the broker's queue shows
what the task left behind."""

from __future__ import annotations

import json

import pytest
import redis

from plugin.celery_app import DEFAULT_QUEUE
from tests.doubles.worker import wait_for
from tests.inbox.test_durability import SHOPPERS, ITEM, WAREHOUSE, _count, _row, _sold_out_variant_with_shoppers
from tests.webhooks.delivery import DEMO_SHOP, deliver, level_payload
from plugin.models import Notification, RestockEvent

pytestmark = [pytest.mark.pg_only, pytest.mark.worker]


def _queued_tasks(worker) -> list[str]:
    client = redis.Redis.from_url(worker.redis_url)
    return [json.loads(message)["headers"]["task"] for message in client.lrange(DEFAULT_QUEUE, 0, -1)]


def _webhook_task_run_here(app, client, runtime, worker, webhook_id: str) -> None:
    """The webhook is accepted (its task queued, the worker stopped), then its task runs here."""
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id=webhook_id).status_code == 200
    assert _queued_tasks(worker) == ["backbell.process_webhook"]
    redis.Redis.from_url(worker.redis_url).delete(DEFAULT_QUEUE)
    app.extensions["celery"].tasks["backbell.process_webhook"](_row(runtime, webhook_id).id)


def test_the_webhook_task_sends_the_first_batch_without_queueing_a_dispatch(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given shoppers waiting, the stock back in Shopify, and no worker running
    _sold_out_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 5)
    celery_worker.stop()

    # when the webhook's task runs
    _webhook_task_run_here(app, client, runtime, celery_worker, "inline")

    # then the first mail went out from that task, and nothing was left for another trip
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
    assert _count(runtime, Notification, Notification.status == "sent") == len(SHOPPERS)
    assert _queued_tasks(celery_worker) == []


@pytest.fixture
def planning_fails_once(runtime):
    """PostgreSQL refuses the first notification insert (a trigger): the inline dispatch fails."""
    statements = [
        "CREATE SEQUENCE plan_fails_once",
        "CREATE FUNCTION plan_fails_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF nextval('plan_fails_once') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER plan_fails_once BEFORE INSERT ON notifications "
        "FOR EACH STATEMENT EXECUTE FUNCTION plan_fails_once()",
    ]
    with runtime.db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    yield
    with runtime.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER plan_fails_once ON notifications")
        conn.exec_driver_sql("DROP FUNCTION plan_fails_once()")
        conn.exec_driver_sql("DROP SEQUENCE plan_fails_once")


def test_a_failed_inline_dispatch_goes_through_the_broker_and_sends_once(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop, planning_fails_once
):
    # given shoppers waiting, the stock back in Shopify, and no worker running
    _sold_out_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    shopify_admin.set_level(DEMO_SHOP, ITEM, WAREHOUSE, 5)
    celery_worker.stop()

    # when the webhook's task runs and its dispatch fails in the database
    _webhook_task_run_here(app, client, runtime, celery_worker, "inline-fails")

    # then the webhook is handled, its restock kept, nothing sent, and the dispatch queued on its own
    assert _row(runtime, "inline-fails").processed_at is not None
    assert _count(runtime, RestockEvent, RestockEvent.status == "pending") == 1
    assert sendgrid.recipients() == []
    assert _queued_tasks(celery_worker) == ["backbell.dispatch_restock"]
    # and once a worker takes it, every shopper is told exactly once
    celery_worker.start()
    wait_for(lambda: _count(runtime, Notification, Notification.status == "sent") == len(SHOPPERS), timeout=30,
             worker=celery_worker)
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
