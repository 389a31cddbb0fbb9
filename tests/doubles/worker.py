"""A REAL Celery worker subprocess for tests (fixture ``celery_worker``).

The worker runs ``celery -A plugin.worker_app worker --pool=solo`` with the test's settings passed
by environment, on its own Redis database: ``BACKBELL_TEST_REDIS_DB`` plus the xdist worker index
(gw0 → +0, gw1 → +1), flushed before start and after the test, so parallel runs never share a
queue. The fixture also sets ``app_config["redis_url"]`` so the app under test enqueues to it.

Order matters: request provider doubles (``sendgrid`` …) first, then ``celery_worker``, then
``app``/``client``/``runtime`` — the worker and the app read ``app_config`` when they start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from plugin.celery_app import QUEUES

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
READY_TIMEOUT = 30
SETTLE_SECONDS = 0.25

# Settings field → environment variable read by plugin.config.load_settings.
ENV_NAMES = {
    "environment": "BACKBELL_ENV",
    "instance_path": "BACKBELL_INSTANCE",
    "outbox_path": "BACKBELL_OUTBOX",
    "encryption_keys": "BACKBELL_ENCRYPTION_KEYS",
    "link_secrets": "BACKBELL_LINK_SECRETS",
    "sendgrid_timeout_seconds": "BACKBELL_SENDGRID_TIMEOUT",
    "twilio_timeout_seconds": "BACKBELL_TWILIO_TIMEOUT",
    "dispatch_retry_backoff_seconds": "BACKBELL_DISPATCH_RETRY_BACKOFF",
    "dispatch_lease_margin_seconds": "BACKBELL_DISPATCH_LEASE_MARGIN",
    "retention_days": "BACKBELL_RETENTION_DAYS",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "app_url": "APP_URL",
    "shopify_api_key": "SHOPIFY_API_KEY",
    "shopify_api_secret": "SHOPIFY_API_SECRET",
    "shopify_api_secret_old": "SHOPIFY_API_SECRET_OLD",
    "shopify_api_version": "SHOPIFY_API_VERSION",
    "shopify_admin_origin": "SHOPIFY_ADMIN_ORIGIN",
    "sendgrid_api_key": "SENDGRID_API_KEY",
    "sendgrid_api_origin": "SENDGRID_API_ORIGIN",
    "sendgrid_webhook_public_key": "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "sendgrid_from_email": "BACKBELL_FROM_EMAIL",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_from": "TWILIO_FROM",
    "twilio_api_origin": "TWILIO_API_ORIGIN",
}
DERIVED = {"dev_credentials"}  # computed by load_settings from the credentials


def worker_environment(app_config: dict) -> dict[str, str]:
    """The worker's environment: ours without any Backbell variable, plus the test's settings."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES.values()}
    for name, value in app_config.items():
        if name in DERIVED or value is None:
            continue
        if name not in ENV_NAMES:
            raise KeyError(f"celery_worker cannot pass setting {name!r}; add it to ENV_NAMES in tests/doubles/worker.py")
        env[ENV_NAMES[name]] = ",".join(value) if isinstance(value, (tuple, list)) else str(value)
    return env


def redis_db_for(worker_id: str) -> int:
    base = int(os.environ.get("BACKBELL_TEST_REDIS_DB", "8"))  # (the layout: tests/conftest.py)
    index = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    return base + index


@dataclass
class CeleryWorker:
    app_config: dict
    redis_url: str
    log_dir: Path
    process: subprocess.Popen | None = None
    started: list[Path] = field(default_factory=list)
    orphaned: set[bytes] = field(default_factory=set)  # delivery tags a killed worker had in hand

    @property
    def log_path(self) -> Path:
        return self.started[-1]

    def start(self, clock_offset: timedelta | None = None, processes: int = 1) -> None:
        """Start a worker; ``clock_offset`` (e.g. ``plugin.clock.offset()`` inside a test's
        ``clock.travel``) becomes its ``BACKBELL_CLOCK_OFFSET``, so its clock agrees with the test's.
        ``processes`` > 1: Celery's prefork pool with that many processes (``backbell worker``'s
        default pool) instead of the solo pool."""
        log_path = self.log_dir / f"worker-{len(self.started) + 1}.log"
        self.started.append(log_path)
        env = worker_environment(self.app_config)
        if clock_offset is not None:
            env["BACKBELL_CLOCK_OFFSET"] = str(clock_offset.total_seconds())
        pool = ["--pool=solo", "--concurrency=1"] if processes == 1 else ["--pool=prefork", f"--concurrency={processes}"]
        command = [str(CELERY), "-A", "plugin.worker_app", "worker", *pool,
                   "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"bbtest-{uuid.uuid4().hex[:8]}@%h"]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(log_path)

    def _wait_ready(self, log_path: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if " ready." in log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Celery worker did not start:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task, exactly like a lost machine. What it had in hand stays
        in kombu's ``unacked`` hash until Redis's visibility timeout (an hour): ``idle`` leaves
        those messages out."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.orphaned |= set(redis.Redis.from_url(self.redis_url).hkeys("unacked"))

    def restart(self, clock_offset: timedelta | None = None) -> None:
        self.kill()
        self.start(clock_offset)

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        try:  # a prefork pool's children outlive a killed parent: end its whole session
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        if not self.started:
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def queue_length(self, queue: str = "celery") -> int:
        return redis.Redis.from_url(self.redis_url).llen(queue)

    def idle(self) -> bool:
        """Nothing queued on either queue and no task in hand: with ``acks_late`` a running task
        stays in kombu's ``unacked`` hash until it has finished (and queued what it queues)."""
        client = redis.Redis.from_url(self.redis_url)
        return not any(client.llen(queue) for queue in QUEUES) and not set(client.hkeys("unacked")) - self.orphaned

    def let_finish(self, timeout: float = 15) -> None:
        """Wait (at most ``timeout``) until the tasks a test left behind have run — a restock's
        other send chain finding nothing left, say — so that nothing is still reading when the
        test's tables are truncated."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process and self.process.poll() is None and not self.settled():
            time.sleep(0.1)

    def settled(self) -> bool:
        """Idle, and still idle a moment later: kombu pops a message (BRPOP) and only then records
        it as unacked, so a single look can fall between the two while a task is starting."""
        if not self.idle():
            return False
        time.sleep(SETTLE_SECONDS)
        return self.idle()


def wait_for(condition, timeout: float = 30, interval: float = 0.1, worker: CeleryWorker | None = None):
    """Poll ``condition`` until it returns something truthy; fail with the worker's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    tail = worker.log_tail() if worker else ""
    raise AssertionError(f"condition not met within {timeout}s\n{tail}")


@pytest.fixture
def celery_redis_url(worker_id) -> str:
    return f"redis://{os.environ.get('BACKBELL_TEST_REDIS', '127.0.0.1:6379')}/{redis_db_for(worker_id)}"


@pytest.fixture
def celery_worker(app_config, celery_redis_url, tmp_path):
    app_config["redis_url"] = celery_redis_url
    client = redis.Redis.from_url(celery_redis_url)
    client.flushdb()
    worker = CeleryWorker(app_config=app_config, redis_url=celery_redis_url, log_dir=tmp_path)
    worker.start()
    yield worker
    # (The app fixture's teardown has let the worker finish before truncating the tables.)
    worker.let_finish()
    worker.stop()
    client.flushdb()
