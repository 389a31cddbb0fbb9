"""PostgreSQL and Redis restarted during a storm of signed inventory webhooks.

The test runs its OWN PostgreSQL and redis-server (tests/faults/services.py; the machine's shared
ones are never touched), serves the app over real HTTP in this process and runs a real Celery
worker against them. Six threads deliver 2,000 webhooks — shuffled, some repeated under the
same id like Shopify's retries, some under a new id. A third of the way in PostgreSQL is stopped
(fast shutdown: open connections are cut), kept down until webhooks were refused, and started;
two thirds in redis-server is stopped — it keeps nothing on disk, so every queued task is lost —
kept down while webhooks arrive, and started. Every refused webhook is then sent again, as
Shopify does, until each one was answered 2xx.

Every webhook answered 2xx must be in the inbox and processed — the tasks Redis lost are queued
again by the inbox's re-drive (the beat's job, run here with the clock moved past the rows'
lease instead of waiting for it) — so the mirror ends at Shopify's final numbers with one restock
per true crossing; every other answer was a status Shopify retries (5xx; never a 4xx for a valid
webhook, never a 500), and the app logged no traceback.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from plugin import create_app
from plugin.clock import travel
from plugin.inbox.tasks import redrive_inbox
from plugin.migrate import upgrade
from plugin.models import InboxDelivery, InventoryLevel, RestockEvent, Variant
from tests.doubles.server import serve_wsgi
from tests.doubles.shopify_admin import install_shop_directly
from tests.doubles.worker import CeleryWorker
from tests.faults import services
from tests.faults.storm import StockHistory
from tests.webhooks.delivery import DEMO_SHOP, webhook_headers

pytestmark = [pytest.mark.pg_only, pytest.mark.worker, pytest.mark.fault,
              pytest.mark.xdist_group("faults-b")]  # the faults stage's group (scripts/test)

VARIANTS, CHANGES = 20, 30  # 20 × 3 locations × 30 = 1,800 changes, + repeats
SEED = 20261203
THREADS = 6
BOUND = 600  # seconds for the whole test on a loaded 2-core machine (about 2 minutes alone)
PAST_THE_LEASE = timedelta(minutes=15)  # the re-drive's view: every row's lease (2 min, backoff) is over


@pytest.fixture
def own_services():
    reason = services.available()
    if reason:
        pytest.fail(f"this fault test needs its own PostgreSQL and redis-server: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="backbell-faults-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder inside
    postgres, broker = services.OwnPostgres(folder / "pg"), services.OwnRedis(folder / "redis")
    postgres.init()
    postgres.start()
    broker.start()
    try:
        yield postgres, broker
    finally:
        broker.stop()
        if postgres.running():
            postgres.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def stack(own_services, app_config, shopify_admin, tmp_path):
    """The app served over HTTP and a real Celery worker, both on the test's own services."""
    postgres, broker = own_services
    database_url = postgres.create_database("backbell")
    upgrade(database_url)
    config = {**app_config, "database_url": database_url, "redis_url": broker.url}
    app = create_app(config)
    worker = CeleryWorker(app_config=config, redis_url=broker.url, log_dir=tmp_path)
    worker.start()
    server = serve_wsgi(app)
    try:
        yield app, server.url, worker, postgres, broker
    finally:
        server.stop()
        worker.stop()
        app.extensions["backbell"].db.dispose()


class Storm:
    """Deliveries from several threads; remembers every answer each webhook id got."""

    def __init__(self, url: str):
        self.url = url
        self.answers: dict[str, list[int]] = defaultdict(list)
        self.done = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(base_url=self.url, timeout=60)
        return self._local.client

    def deliver(self, delivery: tuple[str, dict]) -> int:
        webhook_id, payload = delivery
        body = json.dumps(payload).encode()
        headers = webhook_headers(body, "inventory_levels/update", DEMO_SHOP, webhook_id)
        status = self._client().post("/webhooks", content=body, headers=headers).status_code
        with self._lock:
            self.answers[webhook_id].append(status)
            self.done += 1
        return status

    def refused(self) -> int:
        with self._lock:
            return sum(1 for statuses in self.answers.values() for s in statuses if not 200 <= s < 300)


def _wait(condition, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(interval)


def _restart_both(storm: Storm, total: int, postgres: services.OwnPostgres, broker: services.OwnRedis,
                  events: list[str]) -> None:
    """A third in: PostgreSQL down until webhooks were refused, then up; two thirds in: Redis down
    while webhooks arrive, then up (empty)."""
    _wait(lambda: storm.done >= total // 3, BOUND, "a third of the storm delivered")
    postgres.stop("fast")
    events.append(f"postgres stopped at {storm.done}")
    _wait(lambda: storm.refused() >= 20, 60, "webhooks refused while PostgreSQL is down")
    postgres.start()
    events.append(f"postgres started at {storm.done}")
    _wait(lambda: storm.done >= 2 * total // 3, BOUND, "two thirds of the storm delivered")
    broker.stop()
    down_at = storm.done
    events.append(f"redis stopped at {down_at}")
    _wait(lambda: storm.done >= down_at + 50, 120, "webhooks delivered while Redis is down")
    broker.start()
    events.append(f"redis started at {storm.done}")


def test_every_webhook_answered_2xx_is_processed_through_postgres_and_redis_restarts(
        stack, shopify_admin, caplog, capfd):
    app, url, worker, postgres, broker = stack
    runtime = app.extensions["backbell"]
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    rng = random.Random(SEED)
    history = StockHistory.walk(rng, VARIANTS, CHANGES, first_item=70_000, first_variant=60_000, step_seconds=60)
    # given every variant sold out and watched, and Shopify already at its final numbers
    shop = install_shop_directly(runtime, shopify_admin)
    with runtime.db.session() as session:
        history.seed(session, runtime.vault, shopify_admin, shop.id)
    deliveries = history.deliveries(rng, "restart", retried=120, resent=80)
    storm, events = Storm(url), []

    # when they arrive from six threads while PostgreSQL, then Redis, restart
    restarter = ThreadPoolExecutor(max_workers=1)
    restarts = restarter.submit(_restart_both, storm, len(deliveries), postgres, broker, events)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(storm.deliver, deliveries))
    restarts.result(timeout=BOUND)
    restarter.shutdown()
    # and every refused one is sent again, as Shopify does, until it is answered 2xx
    latest = dict(deliveries)
    for _ in range(20):
        unanswered = [wid for wid, statuses in storm.answers.items() if not 200 <= statuses[-1] < 300]
        if not unanswered:
            break
        time.sleep(1)
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(storm.deliver, [(wid, latest[wid]) for wid in unanswered]))
    # and the re-drive (the beat's job) queues whatever Redis lost, until the inbox is handled (the
    # test reads through fresh connections: the app's session pool still holds ones PostgreSQL's
    # restart ended, which the storm's requests, on the autocommit pool, never met)
    runtime.db.engine.dispose()
    broker_client, redriven = redis.Redis.from_url(broker.url), []

    def inbox_handled() -> bool:
        with runtime.db.session() as s:
            open_rows = s.scalar(select(func.count()).select_from(InboxDelivery)
                                 .where(InboxDelivery.processed_at.is_(None)))
        if open_rows and broker_client.llen("celery") == 0 and broker_client.hlen("unacked") == 0:
            redriven.append(open_rows)  # nothing queued, yet rows unhandled: their tasks were lost
            with app.app_context(), travel(PAST_THE_LEASE):
                redrive_inbox.apply()
        return open_rows == 0

    _wait(inbox_handled, BOUND - (time.monotonic() - started), "every inbox row processed", interval=0.5)
    elapsed = time.monotonic() - started

    # then every webhook was at last answered 2xx, and every refusal was a status Shopify retries
    answers = Counter(status for statuses in storm.answers.values() for status in statuses)
    assert all(200 <= statuses[-1] < 300 for statuses in storm.answers.values())
    refusals = {status: count for status, count in answers.items() if not 200 <= status < 300}
    assert refusals and set(refusals) <= {502, 503, 504}, (refusals, events)
    # and each webhook id answered 2xx is in the inbox, processed — those whose task Redis lost too
    assert redriven
    with runtime.db.session() as s:
        inbox = dict(s.execute(select(InboxDelivery.webhook_id, InboxDelivery.processed_at)).all())
    accepted = {wid for wid, statuses in storm.answers.items() if any(200 <= st < 300 for st in statuses)}
    assert accepted == set(storm.answers)
    assert accepted <= set(inbox) and all(inbox[wid] is not None for wid in accepted)
    # and the mirror holds Shopify's final numbers, with one restock per variant that truly came back
    with runtime.db.session() as s:
        mirrored = {(lvl.inventory_item_id, lvl.location_id): lvl.available
                    for lvl in s.scalars(select(InventoryLevel).where(InventoryLevel.shop_id == shop.id))}
        events_by_variant = Counter(s.scalars(select(RestockEvent.variant_id)))
        sums = {v.variant_id: v.available for v in s.scalars(select(Variant))}
    assert mirrored == history.finals
    came_back = history.came_back()
    assert events_by_variant == Counter(came_back)
    assert 0 < len(came_back) < VARIANTS
    assert sums == history.final_sums()
    # and the app answered no 500 and logged no traceback on the way
    assert 500 not in answers
    logged = capfd.readouterr()
    tracebacks = (logged.out + logged.err).count("Traceback (most recent call last)")
    tracebacks += sum(1 for record in caplog.records if record.exc_info)
    assert tracebacks == 0, (logged.err[-3000:] or caplog.text[-3000:])
    print(f"\nrestarts during a storm: {len(deliveries)} deliveries + {sum(answers.values()) - len(deliveries)} "
          f"re-sent in {elapsed:.0f} s; answers {dict(sorted(answers.items()))}; {'; '.join(events)}; "
          f"re-driven {redriven}")
