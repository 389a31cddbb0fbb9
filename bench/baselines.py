"""The baselines the ingress benchmark compares Backbell's ``POST /webhooks`` with, served by the
same gunicorn: ``bare`` does the same durable work written plainly (HMAC check on the raw body,
one PostgreSQL insert with commit, one Redis push); ``empty`` answers 200 and does nothing.

Configured by environment (set by bench/ingress.py): BENCH_DATABASE_URL, BENCH_REDIS_URL,
BENCH_SECRET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
import redis
from flask import Flask, request

SECRET = os.environ.get("BENCH_SECRET", "bench-secret").encode()


def _bare() -> Flask:
    app = Flask("bare")
    # One connection per gunicorn (sync) worker, kept open — as SQLAlchemy's pool keeps Backbell's.
    connection = {}
    queue = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])

    @app.post("/webhooks")
    def receive():
        body = request.get_data()
        given = request.headers.get("X-Shopify-Hmac-Sha256", "").encode()
        expected = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest())
        if not hmac.compare_digest(given, expected):
            return {"error": "invalid_hmac"}, 401
        webhook_id = request.headers["X-Shopify-Webhook-Id"]
        if "conn" not in connection:
            connection["conn"] = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
        conn = connection["conn"]
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO bench_bare_inbox (webhook_id, body) VALUES (%s, %s) "
                "ON CONFLICT (webhook_id) DO NOTHING RETURNING id", (webhook_id, body)).fetchone()
        if row is not None:
            queue.lpush("bench-bare", str(row[0]))
        return {"status": "accepted"}, 200

    return app


def _empty() -> Flask:
    app = Flask("empty")

    @app.post("/webhooks")
    def receive():
        return {"status": "accepted"}, 200

    return app


def ensure_table(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_bare_inbox (id bigserial PRIMARY KEY, "
                     "webhook_id varchar(128) UNIQUE NOT NULL, body bytea NOT NULL)")


def bare_app():
    return _bare()


def empty_app():
    return _empty()


def _bare_intake() -> Flask:
    """Benchmark 4's baseline: one encrypted insert per sign-up (Fernet + INSERT + commit), no
    signature check, no validation, no rate limit."""
    from cryptography.fernet import Fernet

    app = Flask("bare_intake")
    fernet = Fernet(os.environ["BENCH_KEY"].encode())
    connection = {}

    @app.post("/proxy/subscriptions")
    def subscribe():
        email = (request.get_json(silent=True) or {}).get("email", "")
        if "conn" not in connection:
            connection["conn"] = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
        conn = connection["conn"]
        with conn.transaction():
            conn.execute("INSERT INTO bench_bare_subscriptions (value_ciphertext) VALUES (%s)",
                         (fernet.encrypt(email.encode()).decode(),))
        return {"status": "subscribed"}, 201

    return app


def ensure_intake_table(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_bare_subscriptions (id bigserial PRIMARY KEY, "
                     "value_ciphertext text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")


def bare_intake_app():
    return _bare_intake()
