"""The task that handles a webhook (the inbox drain) dispatches the restocks it finds itself, without a
second trip through the broker (during another shop's fan-out each trip waits for a worker process to
come free); when that dispatch fails, the restock goes through the broker instead and is still sent
exactly once.

The worker is stopped while the drain runs in the test process, so the broker's queue shows what the
task left behind."""

from __future__ import annotations

import json
from collections import Counter
import re

import pytest
import redis

from plugin.celery_app import DEFAULT_QUEUE
from plugin.models import Notification, RestockEvent
from tests.doubles.worker import wait_for
from tests.sql_log import sql_log
from tests.inbox.test_durability import (
    ITEM,
    SHOPPERS,
    WAREHOUSE,
    _count,
    _row,
    _restocked_variant_with_shoppers,
    fails_once,
)
from tests.webhooks.delivery import deliver, level_payload

pytestmark = [pytest.mark.pg_only, pytest.mark.worker]


def _queued_tasks(worker) -> list[str]:
    client = redis.Redis.from_url(worker.redis_url)
    return [json.loads(message)["headers"]["task"] for message in client.lrange(DEFAULT_QUEUE, 0, -1)]


def _accepted(client, worker, webhook_id: str) -> None:
    """The restock webhook is accepted (a drain queued, the worker stopped, the queue emptied: the
    drain is for the test to run here)."""
    assert deliver(client, "inventory_levels/update", level_payload(ITEM, WAREHOUSE, 5),
                   webhook_id=webhook_id).status_code == 200
    assert _queued_tasks(worker) == ["backbell.drain_inbox"]
    redis.Redis.from_url(worker.redis_url).delete(DEFAULT_QUEUE)


def _drain_here(app) -> None:
    app.extensions["celery"].tasks["backbell.drain_inbox"]()


def _webhook_task_run_here(app, client, worker, webhook_id: str) -> None:
    """The webhook is accepted (a drain queued, the worker stopped), then the drain runs here."""
    _accepted(client, worker, webhook_id)
    _drain_here(app)


def test_the_webhook_task_sends_the_first_batch_without_queueing_a_dispatch(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given shoppers waiting, the stock back in Shopify, and no worker running
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    celery_worker.stop()

    # when the drain runs
    _webhook_task_run_here(app, client, celery_worker, "inline")

    # then the first mail went out from that task, and nothing was left for another trip
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
    assert _count(runtime, Notification, Notification.status == "sent") == len(SHOPPERS)
    assert _queued_tasks(celery_worker) == []


@pytest.fixture
def planning_fails_once(runtime):
    """The first notification insert (the plan's) fails: the inline dispatch fails."""
    with fails_once(runtime, "notifications", per="STATEMENT"):
        yield


def test_a_failed_inline_dispatch_goes_through_the_broker_and_sends_once(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop, planning_fails_once
):
    # given shoppers waiting, the stock back in Shopify, and no worker running
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    celery_worker.stop()

    # when the drain runs and its dispatch fails in the database
    _webhook_task_run_here(app, client, celery_worker, "inline-fails")

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


def _kind(sql: str) -> str:
    """"SELECT shops", "UPDATE variants", … (the verb and the first table named)."""
    verb, table = sql.split()[0], re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", sql)
    return f"{verb} {table.group(1)}" if table else verb


def test_a_small_restock_reaches_the_provider_in_few_transactions(
    shopify_admin, sendgrid, celery_worker, app, client, runtime, session, installed_shop
):
    # given shoppers waiting on a shop that orders by neither VIP tags nor email links (most shops),
    # the stock back in Shopify, and no worker running
    _restocked_variant_with_shoppers(runtime, session, shopify_admin, installed_shop)
    celery_worker.stop()
    _accepted(client, celery_worker, "budget")

    # when the drain runs: the attempt, mirror, restock, plan, claim, send, record, finish
    with sql_log(runtime.db.engine) as seen, sql_log(runtime.db.autocommit_engine) as attempt:
        _drain_here(app)

    # then everyone was told. The attempt is one statement on an autocommit connection (its own
    # transaction: no BEGIN or COMMIT); then 5 transactions: the handler, the plan with the first
    # batch's claim, the hand-off, the results, the finish (no VIP transactions, no chain count
    # after a claim that took every row). The shop, the event and the variant are read where a
    # decision needs them fresh — the handler, the plan (the claim's re-check finds the shop and
    # the event in the plan's session, and reads the variant again) — and the messages and results
    # reuse the claim's read; the token lookup reuses the handler's shop, a second lock of the
    # variant is not asked for.
    assert sorted(sendgrid.recipients()) == sorted(SHOPPERS)
    assert (attempt.checkouts, attempt.commits, [_kind(sql) for sql in attempt.statements]) == \
        (1, 0, ["UPDATE webhook_inbox"])
    assert (seen.checkouts, seen.commits) == (5, 5)
    reads = Counter(_kind(sql) for sql in seen.statements)
    assert (reads["SELECT shops"], reads["SELECT restock_events"], reads["SELECT variants"]) == (2, 1, 4), reads
    assert reads["UPDATE variants"] == 2, reads  # the Admin read's sync time; then available + last restock at once
    assert reads["UPDATE webhook_inbox"] == 1, reads  # the handler marks the row processed
    # the levels and held units are read together: once before the Admin read, once for the sum after
    # it (a read made is applied before summing, so the sum is not taken twice); holds once more for
    # "units held for earlier shoppers"
    assert (reads["SELECT inventory_levels"], reads["SELECT holds"]) == (2, 1), reads
    assert len(seen.statements) <= 38, (len(seen.statements), reads)
