"""Shared fixtures.

The suite runs on real PostgreSQL by default (``BACKBELL_TEST_BACKEND=postgres``): one database per
xdist worker, migrated to head once per session, every table truncated after each test (app code
opens its own sessions and a Celery worker reads committed data, so savepoint rollback cannot
isolate). ``BACKBELL_TEST_BACKEND=sqlite`` runs the fast subset on the embedded default; tests
marked ``pg_only`` are skipped there.

Per-developer isolation: ``BACKBELL_TEST_DB`` (database name prefix) and ``BACKBELL_TEST_REDIS_DB``
(Redis database number) keep parallel runs apart; ``BACKBELL_TEST_REDIS`` (host:port, default
127.0.0.1:6379) points a run at another redis-server.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from plugin import create_app
from plugin.logging import configure_logging
from plugin.migrate import upgrade
from plugin.models import Base

ROOT = Path(__file__).resolve().parent.parent
# Every module in tests/doubles/ may define fixtures (the provider doubles, the worker). The ones the
# others import come first, so pytest registers (and assert-rewrites) each before anything imports it.
_IMPORTED_BY_OTHER_DOUBLES = ["server", "shopify_schema", "provider_specs", "provider_faults"]
pytest_plugins = [f"tests.doubles.{name}" for name in _IMPORTED_BY_OTHER_DOUBLES] + sorted(
    f"tests.doubles.{p.stem}" for p in (Path(__file__).parent / "doubles").glob("*.py")
    if p.stem != "__init__" and p.stem not in _IMPORTED_BY_OTHER_DOUBLES
)
# ../shared holds the official provider specs only; tests reach it through tests/doubles/provider_specs.py.
SHARED = Path(os.environ.get("BACKBELL_SHARED", ROOT.parent / "shared"))
BACKEND = os.environ.get("BACKBELL_TEST_BACKEND", "postgres")
PG_ADMIN = os.environ.get("BACKBELL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_DB = int(os.environ.get("BACKBELL_TEST_REDIS_DB", "8"))
# Redis has databases 0–15: a run takes BACKBELL_TEST_REDIS_DB + 0‥2 for its xdist workers' Celery
# workers and + 3‥5 for their rate limits (up to three xdist workers; bench/ uses 15).
MAX_XDIST_WORKERS = 3
# host:port of the Redis the suite uses (a second redis-server lets two checkouts run side by side).
REDIS_HOST = os.environ.get("BACKBELL_TEST_REDIS", "127.0.0.1:6379")
# A fixed key so failures are reproducible; a second key to exercise rotation.
TEST_KEYS = (Fernet.generate_key().decode(), Fernet.generate_key().decode())


# Numbers measured by tests (widget bundle size, Lighthouse): xdist hides workers' output, so the
# tests append them to this file and the controller prints it at the end of the run.
MEASUREMENTS = ROOT / "tests" / "artifacts" / "widget" / "measurements.txt"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        MEASUREMENTS.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter, config):
    from tests.doubles import provider_specs  # registered as a plugin by pytest_plugins above

    line = None if hasattr(config, "workerinput") else provider_specs.summary_line()
    if line:
        MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
        with MEASUREMENTS.open("a") as out:
            out.write(line + "\n")
    if MEASUREMENTS.is_file():
        terminalreporter.section("measurements")
        terminalreporter.write(MEASUREMENTS.read_text())


def pytest_collection_modifyitems(config, items):
    # The fuzz stage runs on its own (`pytest -m fuzz`): minutes of work that the ordinary run,
    # whatever its -m expression, leaves out unless the expression names it.
    if "fuzz" not in (config.getoption("markexpr") or ""):
        fuzz = [item for item in items if "fuzz" in item.keywords]
        if fuzz:
            config.hook.pytest_deselected(items=fuzz)
            items[:] = [item for item in items if "fuzz" not in item.keywords]
    if BACKEND == "sqlite":
        skip = pytest.mark.skip(reason="needs PostgreSQL; runs in the PostgreSQL suite")
        for item in items:
            if "pg_only" in item.keywords or "worker" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        name = f"{os.environ.get('BACKBELL_TEST_DB', 'backbell_test')}_{worker_id}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{base}/{name}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url(worker_id) -> str:
    """Redis for rate limits: per xdist worker, and apart from the Celery workers' databases
    (``BACKBELL_TEST_REDIS_DB`` + index, see tests/doubles/worker.py), which are flushed."""
    index = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    return f"redis://{REDIS_HOST}/{REDIS_DB + MAX_XDIST_WORKERS + index}"


@pytest.fixture
def instance_path(tmp_path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def app_config(database_url, instance_path) -> dict:
    """Settings for the app under test; tests add provider origins and keys to this dict."""
    return {
        "environment": "test",
        "database_url": database_url,
        "instance_path": instance_path,
        "outbox_path": instance_path / "outbox",
        "encryption_keys": TEST_KEYS[:1],
        "shopify_api_key": "test-api-key",
        "shopify_api_secret": "hush",
        "dev_credentials": False,
        "app_url": "http://127.0.0.1:8000",
        "redis_url": None,
    }


# Fixtures that write provider origins/keys or the broker into app_config: they must run before
# the app (and a worker) read it, whatever order a test lists its fixtures in.
CONFIGURING_FIXTURES = ("shopify_admin", "sendgrid", "twilio", "celery_worker")


@pytest.fixture
def app(request, app_config):
    configured = {name: request.getfixturevalue(name) for name in CONFIGURING_FIXTURES if name in request.fixturenames}
    app = create_app(app_config)
    yield app
    if "celery_worker" in configured:  # its teardown comes after this one: nothing may still be reading
        configured["celery_worker"].let_finish()
    _truncate(app.extensions["backbell"].db)
    app.extensions["backbell"].db.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["backbell"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def debug_logs():
    """Every log line, debug included, on this test's captured stderr; the default level after."""
    configure_logging(logging.DEBUG)
    yield
    configure_logging()


@pytest.fixture
def session(runtime):
    """A session for the test's own set-up and assertions (the app opens its own)."""
    s = runtime.db.sessionmaker()
    yield s
    s.close()


def _truncate(db) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")
