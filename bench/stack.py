"""The whole Backbell stack for the end-to-end benchmarks (restock latency, fan-out, intake,
reconciliation): a scratch PostgreSQL database at head, Redis db 15, the Shopify Admin double and
a timed SendGrid double served on loopback from this process, gunicorn serving the app and a real
Celery worker (``celery -A plugin.worker_app worker``, the same command ``backbell worker`` runs).

The bench process also builds the app itself (``create_app`` with the same settings) to seed
rows with the app's own vault, so ciphertexts and hashes are exactly what intake would write.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psutil
import redis
from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from bench.harness import BENCH_REDIS, ROOT, gunicorn, scratch_database
from plugin import create_app
from plugin.cli import default_concurrency
from plugin.clock import utcnow
from plugin.demo import signing
from plugin.migrate import upgrade
from plugin.models import Contact, InventoryLevel, Shop, Subscription, Variant
import uuid

from werkzeug.wrappers import Response

from tests.doubles.sendgrid import SendGridDouble, _basic_shape, _errors, _live_api_rules
from tests.doubles.server import serve_wsgi
from tests.doubles.shopify_admin import ShopifyAdminDouble, admin_schema
from tests.doubles.worker import worker_environment

SECRET = "bench-secret"
CELERY = Path(sys.executable).parent / "celery"


@dataclass
class TimedSendGrid(SendGridDouble):
    """The SendGrid double's contract (key, body shape, the live API's rules, 202 + X-Message-Id)
    without the OpenAPI validation and the per-recipient copies the suite needs — at 100,000
    recipients those would make the double the bottleneck. Notes when each accepted request
    arrived: ``arrivals`` is ``[(monotonic, [recipient, ...]), ...]``; ``bodies`` keeps the raw
    bodies when ``keep_bodies`` is set (the bare re-post baseline of bench/fanout.py)."""

    arrivals: list[tuple[float, list[str]]] = field(default_factory=list)
    keep_bodies: bool = False
    bodies: list[bytes] = field(default_factory=list)

    def _handle(self, request):
        if request.method != "POST" or request.path != "/v3/mail/send":
            return _errors(404, "not found")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _errors(401, "The provided authorization grant is invalid")
        raw = request.get_data()
        body = json.loads(raw)
        problems = _basic_shape(body) or _live_api_rules(body)
        if problems:
            with self._lock:
                self.validation_failures.extend(problems)
            return _errors(400, problems[0])
        to = [r["email"] for p in body["personalizations"] for r in p["to"]]
        with self._lock:
            self.arrivals.append((time.monotonic(), to))
            if self.keep_bodies:
                self.bodies.append(raw)
        return Response(status=202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()
            self.bodies.clear()

    def received(self) -> int:
        return sum(len(to) for _, to in list(self.arrivals))


@dataclass
class Stack:
    database_url: str  # postgresql+psycopg://
    config: dict
    admin: ShopifyAdminDouble
    sendgrid: TimedSendGrid
    app: object
    scratch: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def runtime(self):
        return self.app.extensions["backbell"]

    @property
    def env(self) -> dict[str, str]:
        return {**worker_environment(self.config), "BACKBELL_TRUSTED_PROXIES": "127.0.0.1/32"}

    # -- processes -------------------------------------------------------------------------------
    @contextmanager
    def web(self, workers: int = 2):
        with gunicorn("plugin:create_app()", self.env, workers=workers, log=self.scratch / "gunicorn.log") as url:
            yield url

    def start_worker(self, concurrency: int | None = None, name: str = "bench") -> int:
        """A Celery worker as ``backbell worker`` runs it (default: its default concurrency); returns
        its pool's process count."""
        concurrency = concurrency or default_concurrency(self.runtime.settings.dispatch_chains)
        log_path = self.scratch / f"worker-{name}.log"
        command = [str(CELERY), "-A", "plugin.worker_app", "worker", f"--concurrency={concurrency}",
                   "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"{name}-{os.getpid()}@%h"]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(process)
        _wait_for_children(process, concurrency)
        return concurrency

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.workers.clear()

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of every worker process (the main one and its pool children)."""
        sizes = []
        for process in self.workers:
            try:
                main = psutil.Process(process.pid)
                sizes += [p.memory_info().rss / 2**20 for p in [main, *main.children(recursive=True)]]
            except psutil.Error:
                pass
        return sizes

    # -- rows ------------------------------------------------------------------------------------
    def install_shop(self, domain: str, **fields) -> int:
        self.admin.add_shop(domain)
        tokens = self.admin.issue_tokens(domain, expires_in=24 * 3600)
        now = utcnow()
        vault = self.runtime.vault
        with self.runtime.db.session() as session:
            shop = Shop(domain=domain, name=domain.split(".")[0], timezone="UTC", currency="USD", primary_locale="en",
                        scopes=tokens["scope"], access_token=vault.encrypt(tokens["access_token"]),
                        access_token_expires_at=now + timedelta(seconds=tokens["expires_in"]),
                        refresh_token=vault.encrypt(tokens["refresh_token"]),
                        refresh_token_expires_at=now + timedelta(days=30), **fields)
            session.add(shop)
            session.flush()
            return shop.id

    def sold_out_variant(self, shop_id: int, domain: str, variant_id: int, item_id: int, location_id: int,
                         title: str) -> None:
        """A variant at 0, known to Shopify (the double) and mirrored by Backbell."""
        self.admin.add_variant(domain, variant_id, product_id=variant_id + 1_000_000, inventory_item_id=item_id,
                               levels={location_id: 0}, product_title=title, handle=f"p-{variant_id}")
        with self.runtime.db.session() as session:
            session.add(Variant(shop_id=shop_id, variant_id=variant_id, inventory_item_id=item_id,
                                product_id=variant_id + 1_000_000, title="Default Title", product_title=title,
                                product_handle=f"p-{variant_id}", price="25.00", available=0,
                                synced_at=utcnow()))
            session.add(InventoryLevel(shop_id=shop_id, inventory_item_id=item_id, location_id=location_id,
                                       available=0, source_updated_at=utcnow() - timedelta(hours=1)))

    def add_waiting(self, shop_id: int, variant_id: int, count: int, prefix: str, chunk: int = 5000) -> None:
        """``count`` waiting email subscriptions (consented), inserted in chunks."""
        vault = self.runtime.vault
        for start in range(0, count, chunk):
            emails = [f"{prefix}{n:07d}@example.com" for n in range(start, min(count, start + chunk))]
            with self.runtime.db.session() as session:
                ids = session.scalars(insert(Contact).returning(Contact.id), [
                    {"shop_id": shop_id, "channel": "email", "value_ciphertext": vault.encrypt(e),
                     "value_hash": vault.hash("email", e),
                     # as the customer sync leaves them (its beat job runs minutes after a sign-up)
                     "customer_sync_due": False} for e in emails]).all()
                session.execute(insert(Subscription), [
                    {"shop_id": shop_id, "contact_id": cid, "variant_id": variant_id,
                     "product_id": variant_id + 1_000_000, "channel": "email", "locale": "en", "status": "waiting",
                     "consent_at": utcnow()} for cid in ids])


def _wait_for_children(process: subprocess.Popen, concurrency: int, timeout: float = 60) -> None:
    """Ready when the pool's children exist and the worker has consumed a probe-free second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}")
        if len(psutil.Process(process.pid).children()) >= concurrency:
            time.sleep(2.0)  # connects to the broker after forking
            return
        time.sleep(0.2)
    raise RuntimeError("worker did not start")


def webhook(url: str, topic: str, shop: str, payload: dict, webhook_id: str, http) -> int:
    body = json.dumps(payload).encode()
    headers = signing.webhook_headers(body, topic, shop, webhook_id, SECRET, None)
    return http.post(f"{url}/webhooks", content=body, headers=headers).status_code


def level_payload(item: int, location: int, available: int) -> dict:
    return {"inventory_item_id": item, "location_id": location, "available": available,
            "updated_at": utcnow().replace(microsecond=0).isoformat(),
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"}


@contextmanager
def stack(name: str):
    """Everything up; torn down (workers, doubles, Redis db 15) on exit."""
    import logging
    import tempfile

    for noisy in ("werkzeug", "httpx"):  # a line per request would swamp the output
        logging.getLogger(noisy).setLevel(logging.WARNING)

    database_url = scratch_database(f"backbell_bench_{name}").replace("postgresql://", "postgresql+psycopg://")
    upgrade(database_url)
    redis.Redis.from_url(BENCH_REDIS).flushdb()
    admin = ShopifyAdminDouble(admin_schema())
    admin_server = serve_wsgi(admin)
    admin.url = admin_server.url
    sendgrid = TimedSendGrid(validator=None)
    sendgrid_server = serve_wsgi(sendgrid)
    sendgrid.url = sendgrid_server.url
    keep = os.environ.get("BENCH_SCRATCH")  # a folder to keep the logs in, for a look afterwards
    with (_kept(Path(keep) / name) if keep else tempfile.TemporaryDirectory()) as scratch:
        scratch = Path(scratch)
        config = {
            "environment": "development", "database_url": database_url, "redis_url": BENCH_REDIS,
            "instance_path": scratch / "instance", "outbox_path": scratch / "outbox",
            "encryption_keys": (Fernet.generate_key().decode(),),
            "link_secrets": (base64.urlsafe_b64encode(b"l" * 32).decode(),),
            "shopify_api_key": "bench-key", "shopify_api_secret": SECRET, "app_url": "http://127.0.0.1:8000",
            "shopify_admin_origin": admin.origin, "sendgrid_api_origin": sendgrid.url,
            "sendgrid_api_key": sendgrid.api_key,
        }
        app = create_app(config)
        bench = Stack(database_url, config, admin, sendgrid, app, scratch)
        # The doubles serve from this process, which holds the Admin schema's large object graph:
        # a full collection walked it for 113–200 ms, stalling whichever trial was at a double
        # (seen as one slow trial per run, Backbell's or the bare chain's). Frozen objects are
        # left out of collections; what the benchmark itself allocates is still collected.
        gc.freeze()
        try:
            yield bench
        finally:
            gc.unfreeze()
            bench.stop_workers()
            app.extensions["backbell"].db.dispose()
            admin_server.stop()
            sendgrid_server.stop()
            redis.Redis.from_url(BENCH_REDIS).flushdb()


@contextmanager
def _kept(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    yield str(folder)


def wait_until(condition, timeout: float, interval: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return None


def count_rows(stack_: Stack, model, *where) -> int:
    from sqlalchemy import func

    with stack_.runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


__all__ = ["Stack", "TimedSendGrid", "stack", "webhook", "level_payload", "wait_until", "count_rows", "threading"]
