"""Operators' liveness check."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from plugin.redis_client import shared_redis_client

bp = Blueprint("health", __name__)


@bp.get("/")
def index():
    """What answers here, for a developer who opens the app's URL in a browser."""
    return jsonify(
        app="backbell",
        about="Back-in-stock alerts for Shopify. Open the app from Shopify admin; shoppers reach it via the app proxy.",
        endpoints={"health": "/healthz", "embedded_admin": "/app", "webhooks": "/webhooks",
                   "app_proxy": "/proxy/subscriptions"},
    )


@bp.get("/healthz")
def healthz():
    """200 when the database (and Redis, when configured) answer; 503 naming what does not."""
    runtime = current_app.extensions["backbell"]
    checks = {}
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as err:
        checks["database"] = f"unreachable: {type(err).__name__}"
    if runtime.settings.redis_url:
        try:
            shared_redis_client(runtime.settings.redis_url).ping()
            checks["redis"] = "ok"
        except redis.RedisError as err:
            checks["redis"] = f"unreachable: {type(err).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unhealthy", checks=checks), 200 if healthy else 503
